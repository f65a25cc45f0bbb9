"""The one clock of every table: naive UTC (the store sets DuckDB's time zone to UTC, so its defaults agree)."""
from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    """Now as naive UTC, the way every table stores time."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
