"""The audit log of corpus changes: who did what to which collection or document."""
from __future__ import annotations

import json

from backend.store.rows import Con


def audit(con: Con, action: str, target: str, details: dict | None = None, actor: str = "system") -> None:
    con.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES (?, ?, ?, ?)",
        [actor, action, target, json.dumps(details or {}, default=str)],
    )
