"""Queries over the one-time sign-in codes (060_session_codes.sql): found by the code's hash, deleted when used."""
from __future__ import annotations

from datetime import datetime

from backend.store.rows import Con, dicts


def insert_code(con: Con, code_sha256: str, sealed_token: str, token_sha256: str, now: datetime,
                expires_at: datetime) -> None:
    con.execute("INSERT INTO session_codes (code_sha256, sealed_token, token_sha256, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)", [code_sha256, sealed_token, token_sha256, now, expires_at])


def take_code(con: Con, code_sha256: str) -> dict | None:
    """The code's row, deleted in the same statement: of two requests with one code, only one gets it."""
    rows = dicts(con.execute("DELETE FROM session_codes WHERE code_sha256 = ?"
                             " RETURNING sealed_token, token_sha256, created_at, expires_at", [code_sha256]))
    return rows[0] if rows else None


def delete_expired_codes(con: Con, now: datetime) -> int:
    return len(con.execute("DELETE FROM session_codes WHERE expires_at <= ? RETURNING code_sha256", [now]).fetchall())


def delete_session_codes(con: Con, token_sha256: str) -> int:
    """The codes still pending for a session that ends (sign-out): none may hand it to a browser afterwards."""
    return len(con.execute("DELETE FROM session_codes WHERE token_sha256 = ? RETURNING code_sha256",
                           [token_sha256]).fetchall())


def delete_user_codes(con: Con, user_id: int) -> int:
    """The pending codes of every session of the user (call before their sessions are deleted)."""
    return len(con.execute(
        "DELETE FROM session_codes WHERE token_sha256 IN (SELECT token_sha256 FROM sessions WHERE user_id = ?)"
        " RETURNING code_sha256", [user_id]).fetchall())
