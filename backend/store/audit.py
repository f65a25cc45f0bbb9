"""The append-only audit log: who did what to which collection, document, account, key or grant."""
from __future__ import annotations

import json

from backend.store.rows import Con, dicts, parse_json


def audit(con: Con, action: str, target: str, details: dict | None = None, actor: str = "system") -> None:
    con.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES (?, ?, ?, ?)",
        [actor, action, target, json.dumps(details or {}, default=str)],
    )


def audit_rows(con: Con, limit: int = 200, action: str | None = None, actor: str | None = None,
               target: str | None = None) -> list[dict]:
    """The newest audit rows first; `action` matches a prefix ('sign_in' finds sign_in.ok and sign_in.failed)."""
    conditions, params = [], []
    if action:
        conditions.append("starts_with(action, ?)")
        params.append(action)
    if actor:
        conditions.append("actor = ?")
        params.append(actor)
    if target:
        conditions.append("target = ?")
        params.append(target)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = dicts(con.execute(
        f"SELECT created_at, actor, action, target, details FROM audit_log {where}"
        " ORDER BY created_at DESC, rowid DESC LIMIT ?", [*params, int(limit)]))
    for row in rows:
        row["details"] = parse_json(row["details"]) or {}
    return rows
