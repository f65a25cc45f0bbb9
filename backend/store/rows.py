"""Helpers every store module shares: the cursor alias, result rows as dicts, JSON cells, Arrow tables as SQL views."""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import duckdb
import pyarrow as pa

# A cursor or connection: anything with DuckDB's execute(); callers pass store.cursor() or a transaction.
Con = Any


def dicts(result) -> list[dict[str, Any]]:
    """The rows of an executed statement, each a dict keyed by column name."""
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def parse_json(value) -> Any:
    """A JSON cell as Python: DuckDB may hand it back as text or already parsed."""
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) else value


# A collection scope: one collection's name, the names a caller may read, or None for every collection.
Scope = str | Sequence[str] | None


def scope_condition(scope: Scope, column: str = "col.name") -> tuple[str | None, list]:
    """The SQL condition (None: no condition) and parameters that keep rows inside a collection scope.

    An empty list is a caller who may read no collection: it matches nothing. "" means every collection,
    like None (the pages' "All collections").
    """
    if scope is None or scope == "":
        return None, []
    if isinstance(scope, str):
        return f"{column} = ?", [scope]
    return f"{column} IN (SELECT unnest(?::VARCHAR[]))", [list(scope)]


@contextmanager
def registered(con: Con, name: str, table: pa.Table) -> Iterator[None]:
    """An Arrow table visible to SQL as `name` for the duration of the block."""
    con.register(name, table)
    try:
        yield
    finally:
        try:
            con.unregister(name)
        except duckdb.Error:
            pass  # an aborted transaction refuses even this; the original error is the one to report
