"""Queries over tenants' monthly quotas and their usage (tokens, cost, requests per tenant and month)."""
from __future__ import annotations

from datetime import datetime

from backend.store.rows import Con, dicts


def quota_row(con: Con, tenant: str) -> dict | None:
    rows = dicts(con.execute("SELECT * FROM quotas WHERE tenant = ?", [tenant]))
    return rows[0] if rows else None


def set_quota(con: Con, tenant: str, monthly_tokens: int | None, monthly_cost_usd: float | None, now: datetime) -> None:
    con.execute(
        "INSERT INTO quotas (tenant, monthly_tokens, monthly_cost_usd, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET monthly_tokens = excluded.monthly_tokens,"
        " monthly_cost_usd = excluded.monthly_cost_usd, updated_at = excluded.updated_at",
        [tenant, monthly_tokens, monthly_cost_usd, now],
    )


def quota_and_usage(con: Con, tenant: str, month: str) -> dict:
    """The tenant's limits (None: no limit) and its usage in the month, in one round trip (checked per request)."""
    row = con.execute(
        "SELECT q.monthly_tokens, q.monthly_cost_usd, coalesce(u.tokens, 0), coalesce(u.cost_usd, 0),"
        " coalesce(u.requests, 0)"
        " FROM (SELECT 1) one"
        " LEFT JOIN quotas q ON q.tenant = ?"
        " LEFT JOIN usage u ON u.tenant = ? AND u.month = ?", [tenant, tenant, month]).fetchone()
    return {"tenant": tenant, "month": month, "monthly_tokens": row[0], "monthly_cost_usd": row[1],
            "tokens": int(row[2]), "cost_usd": float(row[3]), "requests": int(row[4])}


def add_usage(con: Con, tenant: str, month: str, tokens: int, cost_usd: float, requests: int = 1) -> None:
    """Add `requests` requests' tokens and cost to the tenant's month (the gateway writes them in batches)."""
    con.execute(
        "INSERT INTO usage (tenant, month, tokens, cost_usd, requests) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET tokens = usage.tokens + excluded.tokens,"
        " cost_usd = usage.cost_usd + excluded.cost_usd, requests = usage.requests + excluded.requests",
        [tenant, month, tokens, cost_usd, requests],
    )


def usage_history(con: Con, tenant: str | None = None) -> list[dict]:
    """Usage per tenant and month, newest month first."""
    where, params = ("WHERE tenant = ?", [tenant]) if tenant else ("", [])
    return dicts(con.execute(
        f"SELECT tenant, month, tokens, cost_usd, requests FROM usage {where} ORDER BY month DESC, tenant", params))
