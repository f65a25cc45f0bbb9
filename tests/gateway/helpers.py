"""Gateway test helpers: a password that passes the rules, a clock the test moves, a scan of every text cell."""
from __future__ import annotations

from datetime import datetime, timedelta

PASSWORD = "correct horse battery"  # 21 characters: passes the length rule


class MovableClock:
    """Naive UTC time that stands still until the test moves it (expiry and throttling windows)."""

    def __init__(self, start: datetime = datetime(2026, 5, 14, 9, 0, 0)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def text_cells_containing(store, needle: str) -> list[str]:
    """Every table.column (text or JSON) of the DuckDB file with a cell containing `needle`."""
    columns = store.query(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'main' AND (data_type LIKE 'VARCHAR%' OR data_type = 'JSON' OR data_type LIKE '%[]')")
    found = []
    for table, column in columns:
        hits = store.scalar(f'SELECT count(*) FROM "{table}" WHERE strpos(CAST("{column}" AS VARCHAR), ?) > 0', [needle])
        if hits:
            found.append(f"{table}.{column}")
    return found
