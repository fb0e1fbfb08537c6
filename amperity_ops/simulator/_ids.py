"""Amperity-shaped identifiers (``wf-20240619-14418-6UhqSe``), drawn from a seeded RNG."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime

_ALPHANUMERIC = string.ascii_letters + string.digits


def token(rng: random.Random, length: int) -> str:
    """A random alphanumeric string of ``length`` characters."""
    return "".join(rng.choice(_ALPHANUMERIC) for _ in range(length))


def dated_id(prefix: str, ts: float, rng: random.Random) -> str:
    """An id of the form ``<prefix>-YYYYMMDD-NNNNN-XXXXXX`` (runs, tasks, ingest jobs)."""
    day = datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d")
    return f"{prefix}-{day}-{rng.randint(10000, 99999)}-{token(rng, 6)}"


def short_id(prefix: str, rng: random.Random, length: int = 9) -> str:
    """An id of the form ``<prefix>-XXXXXXXXX`` (config ids, segments, campaigns)."""
    return f"{prefix}-{token(rng, length)}"


def seeded(*parts: object) -> random.Random:
    """An RNG seeded from ``parts``; stable across processes (string seeds hash with SHA-512)."""
    return random.Random(":".join(str(part) for part in parts))
