"""The query_table tool: parameterised, read-only lookups over the rows of the CSV and XLSX documents a caller may read."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.models import InputError
from backend.tools.spec import READERS, Tool, ToolCaller, ToolError, ToolOutput
from backend.tools.table_rows import TABLE_TYPES, TableRows, TableUnreadable, load_table

CONTAINS = "~"  # a `where` value starting with it matches cells that contain the rest
_LISTED_TABLES = 20  # tables named in a "no such table" message
_CELL_CHARS = 200  # a cell longer than this is cut in the text (data keeps it whole)

Value = Annotated[str, Field(max_length=200)] | int | float


class QueryTableArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: int | Annotated[str, Field(min_length=1, max_length=200)] = Field(
        ..., description="The table: a CSV or XLSX document's id, or its file name or title (e.g. "
                         "\"fee-schedule-2025.csv\").")
    where: dict[Annotated[str, Field(min_length=1, max_length=100)], Value] = Field(
        default_factory=dict, max_length=5,
        description="Column -> value; a row matches when every entry does. A value matches a cell equal to it, "
                    "ignoring case and surrounding spaces (numbers compare as numbers: 3.5 matches 3.50). A value "
                    "starting with \"~\" matches cells that contain the rest, ignoring case: {\"fee\": \"~swift\"}.")
    columns: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None, max_length=30, description="The columns to return, in this order (default: every column).")
    limit: int = Field(20, ge=1, le=50, description="Rows to return at most (1 to 50).")

    @field_validator("where")
    @classmethod
    def _contains_needs_text(cls, where: dict) -> dict:
        for column, value in where.items():
            if isinstance(value, str) and value.startswith(CONTAINS) and not value[1:].strip():
                raise ValueError(f"{column!r}: '~' needs the text to look for after it")
        return where


def _file_name(row: dict) -> str:
    return Path(row["source"]).name or row["title"]


def _label(row: dict) -> str:
    return f"{_file_name(row)} (document {row['id']}, collection {row['collection']})"


def _no_table(table: int | str, rows: list[dict]) -> ToolError:
    """The one answer for a table that does not exist and one the caller may not read: it never says which."""
    if not rows:
        return ToolError(f"table: no table named {str(table)!r} among the documents you can read "
                         "(you can read no CSV or XLSX documents)")
    named = ", ".join(f"{_file_name(r)} (document {r['id']})" for r in rows[:_LISTED_TABLES])
    more = f" and {len(rows) - _LISTED_TABLES} more" if len(rows) > _LISTED_TABLES else ""
    return ToolError(f"table: no table named {str(table)!r} among the documents you can read "
                     f"(tables you can read: {named}{more})")


def find_table(platform, caller: ToolCaller, table: int | str) -> dict:
    """The readable CSV/XLSX document `table` names: by id, else by file name, title or file name without its
    extension (any case); among several of one name, the one in the caller's collection."""
    rows = platform.corpus.documents(mime_type=list(TABLE_TYPES), limit=None, order_by="id", descending=False,
                                     ctx=caller.ctx)
    text = str(table).strip()
    if isinstance(table, int) or text.isdigit():
        by_id = [r for r in rows if r["id"] == int(text)]
        if by_id:
            return by_id[0]
    key = text.casefold()
    named = [r for r in rows if key in {_file_name(r).casefold(), r["title"].casefold(),
                                        Path(_file_name(r)).stem.casefold()}]
    if len(named) > 1 and caller.collection:
        named = [r for r in named if r["collection"] == caller.collection] or named
    if not named:
        raise _no_table(table, rows)
    if len(named) > 1:
        raise ToolError(f"table: {len(named)} tables are named {text!r} (" + ", ".join(_label(r) for r in named)
                        + "): give the document id")
    return named[0]


def _column(table: TableRows, name: str, field: str, label: str) -> int:
    """The position of column `name` (exact, else ignoring case); an unknown one is refused with the real ones."""
    if name in table.columns:
        return table.columns.index(name)
    folded = [c.casefold() for c in table.columns]
    if name.strip().casefold() in folded:
        return folded.index(name.strip().casefold())
    raise InputError(f"arguments.{field}: no column {name!r} in {label} (columns: {', '.join(table.columns)})",
                     field=field)


def _number(text: str) -> float | None:
    """A cell or value read as a number, if it is one ('3.50', '-2', '1e3'); thousands separators are text."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _matcher(value: str | int | float):
    """A test of one cell against one `where` value, by the rule QueryTableArguments.where describes."""
    if isinstance(value, str) and value.startswith(CONTAINS):
        needle = value[1:].strip().casefold()
        return lambda cell: needle in cell.casefold()
    wanted = value if isinstance(value, str) else str(value)
    text, number = wanted.strip().casefold(), _number(wanted)
    return lambda cell: cell.strip().casefold() == text or (number is not None and _number(cell) == number)


def _cell(value: str) -> str:
    value = value.replace("|", "\\|")
    return value if len(value) <= _CELL_CHARS else value[:_CELL_CHARS - 1] + "…"


def _pipe_table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _condition(name: str, value: str | int | float) -> str:
    if isinstance(value, str) and value.startswith(CONTAINS):
        return f"{name} contains {value[1:].strip()!r}"
    return f"{name} = {value!r}"


def query_table(platform, caller: ToolCaller, args: QueryTableArguments) -> ToolOutput:
    row = find_table(platform, caller, args.table)
    label = _file_name(row)
    try:
        table = load_table(platform, caller.ctx, row)
    except TableUnreadable as exc:
        raise ToolError(f"table {label} (document {row['id']}): its rows cannot be read: {exc}") from None
    tests = [(_column(table, name, f"where.{name}", label), _matcher(value)) for name, value in args.where.items()]
    shown = list(dict.fromkeys(_column(table, name, "columns", label) for name in args.columns)) if args.columns \
        else list(range(len(table.columns)))
    matched = [i for i, values in enumerate(table.rows) if all(test(values[at]) for at, test in tests)]
    picked = matched[:args.limit]
    columns = [table.columns[at] for at in shown]
    rows = [[table.rows[i][at] for at in shown] for i in picked]
    chunk_ids = list(dict.fromkeys(c for i in picked if (c := table.chunk_ids[i]) is not None))
    names = [table.columns[at] for at, _ in tests]
    condition = " and ".join(_condition(n, v) for n, v in zip(names, args.where.values()))
    head = f"{label} (document {row['id']})"
    if not matched:
        why = f"none of its {len(table.rows)} rows match {condition}" if tests else "it has no rows"
        text = f"{head}: {why} (columns: {', '.join(table.columns)})"
    else:
        count = f"{len(matched)} of {len(table.rows)} rows" + (f" match {condition}" if tests else "")
        shown_note = f", the first {len(picked)} shown" if len(picked) < len(matched) else ""
        text = f"{head}: {count}{shown_note}\n{_pipe_table(columns, rows)}"
    data = {"document_id": row["id"], "title": row["title"], "collection": row["collection"], "columns": columns,
            "rows": [dict(zip(columns, values)) for values in rows], "matched": len(matched)}
    return ToolOutput(text=text, data=data, chunk_ids=chunk_ids)


QUERY_TABLE = Tool(
    name="query_table",
    description="Look up rows of a CSV or XLSX table among the documents you can read (e.g. a fee schedule): "
                "filter by column values, choose the columns. Read-only; no free-form queries.",
    arguments=QueryTableArguments,
    run=query_table,
    roles=READERS,
    scope="read",
)
