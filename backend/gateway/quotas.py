"""Monthly token and cost quotas per tenant: set, checked before any model call, usage recorded after it."""
from __future__ import annotations

from backend.context import RequestContext
from backend.gateway.identity import QuotaExceeded
from backend.gateway.roles import Clock, utc_now
from backend.models import InputError
from backend.store import accounts as accounts_store
from backend.store import usage as usage_store
from backend.store.audit import audit
from backend.store.db import Store

LANE = "gateway"


class Quotas:
    """Thread-safe: a cursor per call. Months are calendar months in UTC ('2026-05')."""

    def __init__(self, store: Store, clock: Clock = utc_now):
        self.store = store
        self.clock = clock

    def month(self) -> str:
        return self.clock().strftime("%Y-%m")

    def set(self, tenant: str, monthly_tokens: int | None = None, monthly_cost_usd: float | None = None,
            actor: str = "system") -> dict:
        """Set the tenant's limits (None: no limit of that kind; both None lifts the quota)."""
        if monthly_tokens is not None and (not isinstance(monthly_tokens, int) or monthly_tokens < 0):
            raise InputError(f"monthly_tokens: a whole number >= 0 or none, got {monthly_tokens!r}")
        if monthly_cost_usd is not None and (not isinstance(monthly_cost_usd, (int, float)) or monthly_cost_usd < 0):
            raise InputError(f"monthly_cost_usd: a number >= 0 or none, got {monthly_cost_usd!r}")
        with self.store.transaction(LANE) as cur:
            usage_store.set_quota(cur, tenant, monthly_tokens, monthly_cost_usd, self.clock())
            audit(cur, "quota.set", tenant, {"monthly_tokens": monthly_tokens, "monthly_cost_usd": monthly_cost_usd},
                  actor)
        return self.usage(tenant)

    def usage(self, tenant: str) -> dict:
        """This month's tokens, cost and requests for the tenant beside its limits (None: unlimited)."""
        with self.store.cursor() as cur:
            return usage_store.quota_and_usage(cur, tenant, self.month())

    def history(self, tenant: str | None = None) -> list[dict]:
        with self.store.cursor() as cur:
            return usage_store.usage_history(cur, tenant)

    def tenants_in_scope(self, ctx: RequestContext) -> list[str]:
        """The tenants whose usage the caller may see: every tenant for an admin (the system), else their own."""
        if ctx.tenants is not None:
            return sorted(ctx.tenants)
        with self.store.cursor() as cur:
            return accounts_store.tenant_names(cur)

    def usage_in_scope(self, ctx: RequestContext) -> list[dict]:
        """`usage(tenant)` of every tenant in the caller's scope."""
        return [self.usage(tenant) for tenant in self.tenants_in_scope(ctx)]

    def history_in_scope(self, ctx: RequestContext) -> list[dict]:
        """`history()` (per tenant and month, newest first) of the tenants in the caller's scope."""
        rows = self.history()
        return rows if ctx.tenants is None else [row for row in rows if row["tenant"] in ctx.tenants]

    def check(self, tenant: str) -> None:
        """QuotaExceeded when the tenant has used its monthly tokens or cost; call it before any model call, so
        a tenant over quota costs nothing more. A request that starts under quota may end a little over it."""
        used = self.usage(tenant)
        tokens_limit, cost_limit = used["monthly_tokens"], used["monthly_cost_usd"]
        if tokens_limit is not None and used["tokens"] >= tokens_limit:
            raise QuotaExceeded(f"tenant {tenant!r} has used {used['tokens']:,} of its {tokens_limit:,} monthly tokens "
                                f"({used['month']}); an admin can raise the quota, or wait for next month")
        if cost_limit is not None and used["cost_usd"] >= cost_limit:
            raise QuotaExceeded(f"tenant {tenant!r} has used ${used['cost_usd']:,.2f} of its ${cost_limit:,.2f} monthly "
                                f"cost ({used['month']}); an admin can raise the quota, or wait for next month")

    def record(self, tenant: str, tokens: int, cost_usd: float) -> None:
        """Add one request's tokens and cost to the tenant's month (after the model answered)."""
        if tokens < 0 or cost_usd < 0:
            raise ValueError(f"usage cannot be negative (tokens={tokens}, cost_usd={cost_usd})")
        with self.store.transaction(LANE) as cur:
            usage_store.add_usage(cur, tenant, self.month(), int(tokens), float(cost_usd))
