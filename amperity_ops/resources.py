"""``amperity_ops.resources.AmperityResource``: the documented import path of the tenant resource.

The class lives with the rest of the Dagster wiring in :mod:`amperity_ops.defs.tenant_resource`;
this module only keeps the public path that users and the docs name.
"""

from amperity_ops.defs.tenant_resource import AmperityResource

__all__ = ["AmperityResource"]
