"""amperity-ops: watch and guard Amperity workflows from Dagster."""

__version__ = "0.1.0"
