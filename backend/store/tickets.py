"""Tickets (hand-overs to a person): recorded by the create_ticket tool, listed per tenant, closed and reopened."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from backend.store.rows import Con, dicts
from backend.store.sequences import allocate_ids

PRIORITIES = ("low", "normal", "high")
STATUSES = ("open", "closed")
_COLUMNS = "id, tenant, created_by, title, body, priority, conversation_id, status, created_at, closed_by, closed_at"


def insert_ticket(con: Con, tenant: str, created_by: str, title: str, body: str, priority: str = "normal",
                  conversation_id: str | None = None) -> dict:
    """Record one open ticket and return its row; call inside the write transaction (its id is allocated there)."""
    [ticket_id] = allocate_ids(con, "ticket_id_seq", 1)
    con.execute(
        "INSERT INTO tickets (id, tenant, created_by, title, body, priority, conversation_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [ticket_id, tenant, created_by, title, body, priority, conversation_id],
    )
    return dicts(con.execute(f"SELECT {_COLUMNS} FROM tickets WHERE id = ?", [ticket_id]))[0]


def ticket_by_id(con: Con, ticket_id: int) -> dict | None:
    """One ticket's row, whoever may read it (the caller checks that), or None."""
    rows = dicts(con.execute(f"SELECT {_COLUMNS} FROM tickets WHERE id = ?", [int(ticket_id)]))
    return rows[0] if rows else None


def set_status(con: Con, ticket_id: int, status: str, actor: str, at: datetime) -> dict:
    """Close (recording who and when) or reopen (clearing both) a ticket; returns its row. Call inside the write
    transaction that also writes the audit row."""
    closing = status == "closed"
    con.execute("UPDATE tickets SET status = ?, closed_by = ?, closed_at = ? WHERE id = ?",
                [status, actor if closing else None, at if closing else None, int(ticket_id)])
    row = ticket_by_id(con, ticket_id)
    assert row is not None, ticket_id  # the caller read it in this same transaction
    return row


def tickets_for(con: Con, tenants: Iterable[str] | None, status: str | None = None, limit: int = 50,
                created_by: str | None = None, open_first: bool = False) -> list[dict]:
    """The tickets of these tenants (None: every tenant; an empty set: none), newest first (`open_first`: the open
    ones before the closed ones, each newest first); `status` and `created_by` (one user's own) filter."""
    conditions: list[str] = []
    params: list[object] = []
    if tenants is not None:
        conditions.append("tenant IN (SELECT unnest(?::VARCHAR[]))")
        params.append(sorted(tenants))
    for column, value in (("status", status), ("created_by", created_by)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    order = "status = 'open' DESC, created_at DESC, id DESC" if open_first else "created_at DESC, id DESC"
    return dicts(con.execute(f"SELECT {_COLUMNS} FROM tickets {where} ORDER BY {order} LIMIT ?", [*params, int(limit)]))
