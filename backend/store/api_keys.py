"""Queries over API keys and sign-in sessions: each row holds the sha256 of its secret, never the secret."""
from __future__ import annotations

import json
from datetime import datetime

from backend.store.rows import Con, dicts, parse_json

# Every key column but the hash: what listings show (the prefix is how people tell keys apart).
_KEY_COLUMNS = ("k.id, k.prefix, k.user_id, u.name AS user, k.tenant, k.role, k.scopes, k.name, k.created_at,"
                " k.expires_at, k.revoked_at, k.last_used_at")


def _key(row: dict) -> dict:
    row["scopes"] = sorted(parse_json(row["scopes"]) or [])
    return row


# --- API keys ------------------------------------------------------------------------------
def insert_key(con: Con, prefix: str, secret_sha256: str, user_id: int, tenant: str, role: str, scopes: list[str],
               name: str, now: datetime, expires_at: datetime | None) -> int:
    return con.execute(
        "INSERT INTO api_keys (prefix, secret_sha256, user_id, tenant, role, scopes, name, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [prefix, secret_sha256, user_id, tenant, role, json.dumps(sorted(scopes)), name, now, expires_at],
    ).fetchone()[0]


def key_for_authentication(con: Con, prefix: str) -> dict | None:
    """The key found by its prefix, with its hash and its user's current role and state."""
    rows = dicts(con.execute(
        f"SELECT {_KEY_COLUMNS}, k.secret_sha256, u.role AS user_role, u.disabled AS user_disabled"
        " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = ?", [prefix]))
    return _key(rows[0]) if rows else None


def key_row(con: Con, key_id: int) -> dict | None:
    rows = dicts(con.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?",
                             [key_id]))
    return _key(rows[0]) if rows else None


def list_keys(con: Con, user_id: int | None = None, tenant: str | None = None) -> list[dict]:
    conditions: list[str] = []
    params: list = []
    if user_id is not None:
        conditions.append("k.user_id = ?")
        params.append(user_id)
    if tenant is not None:
        conditions.append("k.tenant = ?")
        params.append(tenant)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return [_key(r) for r in dicts(con.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id {where} ORDER BY k.id", params))]


def prefix_taken(con: Con, prefix: str) -> bool:
    return con.execute("SELECT count(*) FROM api_keys WHERE prefix = ?", [prefix]).fetchone()[0] > 0


def revoke_key(con: Con, key_id: int, now: datetime) -> None:
    con.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now, key_id])


def touch_key(con: Con, key_id: int, now: datetime) -> None:
    con.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [now, key_id])


def set_keys_role(con: Con, user_id: int, role: str) -> None:
    """A key follows its user's role (it never keeps a role the user lost)."""
    con.execute("UPDATE api_keys SET role = ? WHERE user_id = ?", [role, user_id])


# --- sessions ------------------------------------------------------------------------------
def insert_session(con: Con, token_sha256: str, user_id: int, now: datetime, expires_at: datetime) -> None:
    con.execute("INSERT INTO sessions (token_sha256, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                [token_sha256, user_id, now, expires_at])


def session_row(con: Con, token_sha256: str) -> dict | None:
    """The session with its user's current name, tenant, role and state."""
    rows = dicts(con.execute(
        "SELECT s.user_id, s.created_at, s.expires_at, u.name AS user, u.tenant, u.role, u.disabled"
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = ?", [token_sha256]))
    return rows[0] if rows else None


def delete_session(con: Con, token_sha256: str) -> bool:
    return bool(con.execute("DELETE FROM sessions WHERE token_sha256 = ? RETURNING user_id", [token_sha256]).fetchall())


def delete_user_sessions(con: Con, user_id: int) -> int:
    return len(con.execute("DELETE FROM sessions WHERE user_id = ? RETURNING user_id", [user_id]).fetchall())


def delete_expired_sessions(con: Con, now: datetime) -> int:
    return len(con.execute("DELETE FROM sessions WHERE expires_at <= ? RETURNING user_id", [now]).fetchall())


# --- sign-in attempts ----------------------------------------------------------------------
def insert_attempt(con: Con, account: str, address: str, ok: bool, now: datetime) -> None:
    con.execute("INSERT INTO sign_in_attempts (account, address, created_at, ok) VALUES (?, ?, ?, ?)",
                [account, address, now, ok])


def account_failures(con: Con, account: str, since: datetime) -> list[datetime]:
    """Failed sign-ins of the account since `since` and after its last success (a success clears the count)."""
    return [r[0] for r in con.execute(
        "SELECT created_at FROM sign_in_attempts WHERE account = ? AND NOT ok AND created_at > ?"
        " AND created_at > coalesce((SELECT max(created_at) FROM sign_in_attempts WHERE account = ? AND ok), ?)"
        " ORDER BY created_at", [account, since, account, since]).fetchall()]


def address_failures(con: Con, address: str, since: datetime) -> list[datetime]:
    """Failed sign-ins from the address since `since`, for any account (a success on one does not clear it)."""
    return [r[0] for r in con.execute(
        "SELECT created_at FROM sign_in_attempts WHERE address = ? AND NOT ok AND created_at > ? ORDER BY created_at",
        [address, since]).fetchall()]


def prune_attempts(con: Con, before: datetime) -> None:
    con.execute("DELETE FROM sign_in_attempts WHERE created_at < ?", [before])
