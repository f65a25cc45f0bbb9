"""Queries over the gateway's accounts: tenants, users, groups, their members and their collection grants."""
from __future__ import annotations

from datetime import datetime

from backend.store.rows import Con, dicts

# Every column of a user but the password hash: what any caller outside sign-in gets to see.
_USER_COLUMNS = "u.id, u.name, u.tenant, u.role, u.disabled, u.created_at"


def _one(con: Con, sql: str, params: list) -> dict | None:
    rows = dicts(con.execute(sql, params))
    return rows[0] if rows else None


# --- tenants -------------------------------------------------------------------------------
def tenant_row(con: Con, name: str) -> dict | None:
    return _one(con, "SELECT * FROM tenants WHERE name = ?", [name])


def insert_tenant(con: Con, name: str, description: str, now: datetime) -> None:
    con.execute("INSERT INTO tenants (name, description, created_at) VALUES (?, ?, ?)", [name, description, now])


def list_tenants(con: Con) -> list[dict]:
    """Every tenant with its user and collection counts."""
    return dicts(con.execute(
        """
        SELECT t.name, t.description, t.created_at,
               (SELECT count(*) FROM users u WHERE u.tenant = t.name) AS users,
               (SELECT count(*) FROM collections col WHERE col.tenant = t.name) AS collections
        FROM tenants t ORDER BY t.name
        """
    ))


def tenant_names(con: Con) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM tenants ORDER BY name").fetchall()]


# --- users ---------------------------------------------------------------------------------
def user_row(con: Con, name: str) -> dict | None:
    """The user without the password hash."""
    return _one(con, f"SELECT {_USER_COLUMNS} FROM users u WHERE u.name = ?", [name])


def user_by_id(con: Con, user_id: int) -> dict | None:
    return _one(con, f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = ?", [user_id])


def user_credentials(con: Con, name: str) -> dict | None:
    """The user with its password hash: for sign-in and password changes only."""
    return _one(con, f"SELECT {_USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = ?", [name])


def insert_user(con: Con, name: str, tenant: str, role: str, password_hash: str, now: datetime) -> int:
    return con.execute(
        "INSERT INTO users (name, tenant, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        [name, tenant, role, password_hash, now],
    ).fetchone()[0]


def list_users(con: Con, tenant: str | None = None) -> list[dict]:
    """Users (of one tenant, or all) with the names of their groups."""
    where, params = ("WHERE u.tenant = ?", [tenant]) if tenant else ("", [])
    return dicts(con.execute(
        f"""
        SELECT {_USER_COLUMNS},
               coalesce((SELECT list(g.name ORDER BY g.name) FROM group_members m JOIN groups g ON g.id = m.group_id
                         WHERE m.user_id = u.id), []) AS groups
        FROM users u {where} ORDER BY u.name
        """, params,
    ))


def count_users(con: Con) -> int:
    return con.execute("SELECT count(*) FROM users").fetchone()[0]


def set_user_role(con: Con, user_id: int, role: str) -> None:
    con.execute("UPDATE users SET role = ? WHERE id = ?", [role, user_id])


def set_user_disabled(con: Con, user_id: int, disabled: bool) -> None:
    con.execute("UPDATE users SET disabled = ? WHERE id = ?", [disabled, user_id])


def set_password_hash(con: Con, user_id: int, password_hash: str) -> None:
    con.execute("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id])


# --- groups, members, grants ---------------------------------------------------------------
def group_row(con: Con, name: str) -> dict | None:
    return _one(con, "SELECT * FROM groups WHERE name = ?", [name])


def insert_group(con: Con, name: str, tenant: str, now: datetime) -> int:
    return con.execute("INSERT INTO groups (name, tenant, created_at) VALUES (?, ?, ?) RETURNING id",
                       [name, tenant, now]).fetchone()[0]


def list_groups(con: Con, tenant: str | None = None) -> list[dict]:
    """Groups (of one tenant, or all) with their member names and granted collections."""
    where, params = ("WHERE g.tenant = ?", [tenant]) if tenant else ("", [])
    return dicts(con.execute(
        f"""
        SELECT g.id, g.name, g.tenant, g.created_at,
               coalesce((SELECT list(u.name ORDER BY u.name) FROM group_members m JOIN users u ON u.id = m.user_id
                         WHERE m.group_id = g.id), []) AS members,
               coalesce((SELECT list(cg.collection ORDER BY cg.collection) FROM collection_grants cg
                         WHERE cg.group_id = g.id), []) AS collections
        FROM groups g {where} ORDER BY g.name
        """, params,
    ))


def add_member(con: Con, group_id: int, user_id: int, now: datetime) -> bool:
    """Add the user to the group; False when already a member."""
    added = con.execute("INSERT INTO group_members (group_id, user_id, created_at) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING RETURNING user_id", [group_id, user_id, now]).fetchall()
    return bool(added)


def remove_member(con: Con, group_id: int, user_id: int) -> bool:
    removed = con.execute("DELETE FROM group_members WHERE group_id = ? AND user_id = ? RETURNING user_id",
                          [group_id, user_id]).fetchall()
    return bool(removed)


def insert_grant(con: Con, group_id: int, collection: str, now: datetime) -> bool:
    """Grant the group the collection; False when it had it already."""
    added = con.execute("INSERT INTO collection_grants (group_id, collection, created_at) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING RETURNING collection", [group_id, collection, now]).fetchall()
    return bool(added)


def delete_grant(con: Con, group_id: int, collection: str) -> bool:
    removed = con.execute("DELETE FROM collection_grants WHERE group_id = ? AND collection = ? RETURNING collection",
                          [group_id, collection]).fetchall()
    return bool(removed)


def granted_collections(con: Con, user_id: int) -> list[str]:
    """The collections granted to any group the user belongs to (names; a grant may precede its collection)."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT cg.collection FROM collection_grants cg JOIN group_members m ON m.group_id = cg.group_id "
        "WHERE m.user_id = ? ORDER BY 1", [user_id]).fetchall()]


def collection_tenant(con: Con, name: str) -> str | None:
    """The tenant of a collection, None when no collection has that name (grants check it)."""
    row = con.execute("SELECT tenant FROM collections WHERE name = ?", [name]).fetchone()
    return row[0] if row else None
