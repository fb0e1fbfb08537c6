"""Demo-only material: the demo policy file (policy.yaml), the run starter (kickoff) and
the demo's code location (definitions.py: the shipped one plus a downstream asset)."""
