"""The history store (SQLAlchemy Core): a SQLite file by default, Postgres in production."""

from amperity_ops.store.alert_ledger import OutboxItem
from amperity_ops.store.engine import make_engine, safe_url
from amperity_ops.store.failures import store_failures_named
from amperity_ops.store.history import VANISHED
from amperity_ops.store.migrate import (
    SchemaStatus,
    UpgradeReport,
    head_revision,
    schema_status,
    upgrade_schema,
)
from amperity_ops.store.stop_ledger import NewStop, StopRecord
from amperity_ops.store.store import Store, StoreError

__all__ = [
    "VANISHED",
    "NewStop",
    "OutboxItem",
    "SchemaStatus",
    "StopRecord",
    "Store", "StoreError",
    "UpgradeReport",
    "head_revision", "make_engine", "safe_url", "schema_status", "store_failures_named",
    "upgrade_schema"]
