"""The DuckDB file: opening it (with a clear message when another process holds it), migrations, cursors."""
from __future__ import annotations

import itertools
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import duckdb

from backend.models import StoreLockedError
from backend.store.rows import dicts

# Write lanes: each has its own lock, so writers of different concerns never queue behind each other.
# corpus: ingest, collections, documents; chat: conversations, feedback, answer cache (the hot path);
# telemetry: span export, retention, drift; evaluation: gold sets and runs; gateway: accounts, keys, sessions,
# sign-in attempts, usage (a sign-in or a usage record never waits behind an ingest batch).
LANES = ("corpus", "chat", "telemetry", "evaluation", "gateway")
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def _lock_holder(message: str) -> str:
    match = re.search(r"PID (\d+)", message)
    return f" (process {match.group(1)})" if match else ""


class Store:
    """One DuckDB connection per process; every caller gets its own cursor, so threads never share one.

    Migrations are the numbered `NNN_name.sql` files in `backend/store/migrations`, applied in order,
    each in its own transaction, and recorded in `schema_migrations`.
    """

    def __init__(self, path: Path | str, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise StoreLockedError(
                    f"{self.path} is in use by another Groundwork process{_lock_holder(text)}; "
                    "stop the app (or that command) first, or point GROUNDWORK_DATA_DIR elsewhere"
                ) from None
            raise
        # Every naive timestamp the store writes (current_timestamp defaults) is UTC, like the gateway's and the
        # traces' (utc_now), whatever the server's time zone: one clock for audit rows, documents and traces.
        # GLOBAL, because each cursor is a connection of its own and would not see a per-connection SET.
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        # Writers are serialised per lane, not per process: DuckDB runs transactions concurrently (optimistic,
        # conflict-free for appends), so a chat turn never waits behind an ingest batch or a span export.
        self._lanes = {lane: threading.RLock() for lane in LANES}
        # Per lane, a number that changes with every commit of it: a reader's cache of a lane's tables is still
        # right while the number it read before its query is the current one (see `commits`).
        self._commit_numbers = itertools.count(1)
        self._commits = dict.fromkeys(LANES, 0)
        if not read_only:
            self.migrate()

    # --- access ------------------------------------------------------------------------
    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _lane(self, lane: str) -> threading.RLock:
        try:
            return self._lanes[lane]
        except KeyError:
            raise ValueError(f"unknown write lane {lane!r} (lanes: {', '.join(LANES)})") from None

    @contextmanager
    def transaction(self, lane: str = "corpus") -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside BEGIN/COMMIT; rolled back on any exception. Writers of one lane are serialised."""
        with self._lane(lane), self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
                self._commits[lane] = next(self._commit_numbers)
            except BaseException:
                # Also after a failed COMMIT (e.g. a constraint checked at commit): never leave it open.
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # DuckDB already aborted it
                raise

    def query(self, sql: str, params: list | tuple | dict | None = None) -> list[tuple]:
        with self.cursor() as cur:
            return cur.execute(sql, params or []).fetchall()

    def query_df(self, sql: str, params: list | tuple | dict | None = None):
        with self.cursor() as cur:
            return cur.execute(sql, params or []).df()

    def query_dicts(self, sql: str, params: list | tuple | dict | None = None) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            return dicts(cur.execute(sql, params or []))

    def scalar(self, sql: str, params: list | tuple | dict | None = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: list | tuple | dict | None = None, lane: str = "corpus") -> None:
        with self._lane(lane), self.cursor() as cur:
            cur.execute(sql, params or [])
        self._commits[lane] = next(self._commit_numbers)

    def commits(self, lane: str = "corpus") -> int:
        """Changes whenever this process commits a write of the lane. Read it before a query whose result you
        keep; while it still has that value, nothing of the lane has changed (this process is the only writer)."""
        return self._commits[lane]

    def close(self) -> None:
        self._con.close()

    # --- schema ------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        with self.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                " applied_at TIMESTAMP DEFAULT current_timestamp)"
            )
            done = {row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            match = _MIGRATION_NAME.match(path.name)
            if not match:
                raise RuntimeError(f"migration file {path.name} is not named NNN_name.sql")
            version = int(match.group(1))
            if version in done:
                continue
            with self.transaction() as cur:
                cur.execute(path.read_text())
                cur.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, path.stem])
            applied.append(path.stem)
        return applied
