"""The store's Alembic migration scripts (``versions/``), run in code by :mod:`..migrate`.

There is no ``alembic.ini`` and no ``env.py``: :mod:`amperity_ops.store.migrate` builds the
Alembic configuration in code, points ``script_location`` at this directory and hands Alembic
an open connection (so the lock taken around an upgrade covers it).

To add a revision: copy the latest file in ``versions/``, bump ``revision``/``down_revision``,
and change ``schema.py`` in the same commit; ``test_migrations.py`` fails until the head
revision builds exactly what ``schema.py`` describes. Keep migrations additive (new tables,
nullable columns), so the previous version of amperity-ops still runs on an upgraded store.
"""
