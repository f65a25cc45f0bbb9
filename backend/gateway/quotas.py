"""Monthly token and cost quotas per tenant: set, checked before any model call, usage recorded after it."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from backend.context import RequestContext
from backend.gateway.identity import QuotaExceeded
from backend.gateway.roles import Clock, utc_now
from backend.gateway.write_behind import WriteBehind
from backend.models import InputError
from backend.store import accounts as accounts_store
from backend.store import usage as usage_store
from backend.store.audit import audit
from backend.store.db import Store

LANE = "gateway"
Limits = tuple[int | None, float | None]  # (monthly_tokens, monthly_cost_usd); None: no limit of that kind
Spent = tuple[int, float, int]  # (tokens, cost_usd, requests) added to one (tenant, month)


@dataclass
class _Month:
    """A tenant's usage in one month as this process knows it: DuckDB's row plus what is still queued."""

    tokens: int
    cost_usd: float
    requests: int


def _add(older: Spent, newer: Spent) -> Spent:
    return older[0] + newer[0], older[1] + newer[1], older[2] + newer[2]


def _write_usage(cur, batch: dict[tuple[str, str], Spent]) -> None:
    for (tenant, month), (tokens, cost_usd, requests) in batch.items():
        usage_store.add_usage(cur, tenant, month, tokens, cost_usd, requests)


class Quotas:
    """Months are calendar months in UTC ('2026-05'). Thread-safe.

    Checked and charged in memory, so a request pays no query for its quota: each tenant's limits and month are
    read from DuckDB once, then kept here. This is exact because this process owns the store and every change of
    limits (`set`) and of usage (`record`) goes through here. Usage reaches DuckDB behind the request (a
    WriteBehind flushed at least every second, before any read of the stored rows, and on close): a crash loses
    at most the last second of usage records, never a limit.
    """

    def __init__(self, store: Store, clock: Clock = utc_now, flush_every_s: float = 1.0):
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._setting = threading.Lock()
        self._limits: dict[str, Limits] = {}
        # One small entry per tenant and month since this process started: never evicted, since it is the truth
        # while its usage is still queued.
        self._months: dict[tuple[str, str], _Month] = {}
        self._writes: WriteBehind[tuple[str, str], Spent] = WriteBehind(
            store, _write_usage, _add, interval_s=flush_every_s, name="gateway-usage-writer")

    def month(self) -> str:
        return self.clock().strftime("%Y-%m")

    def set(self, tenant: str, monthly_tokens: int | None = None, monthly_cost_usd: float | None = None,
            actor: str = "system") -> dict:
        """Set the tenant's limits (None: no limit of that kind; both None lifts the quota)."""
        if monthly_tokens is not None and (not isinstance(monthly_tokens, int) or monthly_tokens < 0):
            raise InputError(f"monthly_tokens: a whole number >= 0 or none, got {monthly_tokens!r}")
        if monthly_cost_usd is not None and (not isinstance(monthly_cost_usd, (int, float)) or monthly_cost_usd < 0):
            raise InputError(f"monthly_cost_usd: a number >= 0 or none, got {monthly_cost_usd!r}")
        limits = (None if monthly_tokens is None else int(monthly_tokens),
                  None if monthly_cost_usd is None else float(monthly_cost_usd))  # as DuckDB hands them back
        with self._setting:  # two admins' sets: memory ends with the one DuckDB kept, the last committed
            with self.store.transaction(LANE) as cur:
                usage_store.set_quota(cur, tenant, monthly_tokens, monthly_cost_usd, self.clock())
                audit(cur, "quota.set", tenant,
                      {"monthly_tokens": monthly_tokens, "monthly_cost_usd": monthly_cost_usd}, actor)
            with self._lock:
                # After the COMMIT, and unconditional: a first read racing this only adds limits still absent.
                self._limits[tenant] = limits
        return self.usage(tenant)

    def _state(self, tenant: str, month: str) -> tuple[Limits, _Month]:
        """The tenant's limits and month, read from DuckDB the first time (one query for both)."""
        with self._lock:
            limits, used = self._limits.get(tenant), self._months.get((tenant, month))
        if limits is not None and used is not None:
            return limits, used
        with self.store.cursor() as cur:
            row = usage_store.quota_and_usage(cur, tenant, month)
        with self._lock:
            # setdefault: what another thread put here meanwhile (a set, a record) is newer than this read.
            limits = self._limits.setdefault(tenant, (row["monthly_tokens"], row["monthly_cost_usd"]))
            used = self._months.setdefault((tenant, month), _Month(row["tokens"], row["cost_usd"], row["requests"]))
        return limits, used

    def usage(self, tenant: str) -> dict:
        """This month's tokens, cost and requests for the tenant beside its limits (None: unlimited); exact,
        queued usage included."""
        month = self.month()
        (tokens_limit, cost_limit), used = self._state(tenant, month)
        with self._lock:
            tokens, cost_usd, requests = used.tokens, used.cost_usd, used.requests
        return {"tenant": tenant, "month": month, "monthly_tokens": tokens_limit, "monthly_cost_usd": cost_limit,
                "tokens": tokens, "cost_usd": cost_usd, "requests": requests}

    def history(self, tenant: str | None = None) -> list[dict]:
        """Usage per tenant and month from DuckDB, newest month first (queued usage written first, so exact)."""
        self._writes.flush()
        with self.store.cursor() as cur:
            return usage_store.usage_history(cur, tenant)

    def flush(self) -> None:
        """Write the queued usage to DuckDB now."""
        self._writes.flush()

    def close(self) -> None:
        """Write the queued usage and stop the writer thread (before the store closes)."""
        self._writes.close()

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
        """Add one request's tokens and cost to the tenant's month (after the model answered): in memory at once,
        so the very next check counts it; in DuckDB within a second (see the class)."""
        if tokens < 0 or cost_usd < 0:
            raise ValueError(f"usage cannot be negative (tokens={tokens}, cost_usd={cost_usd})")
        month = self.month()
        _, used = self._state(tenant, month)
        spent = (int(tokens), float(cost_usd), 1)
        with self._lock:
            used.tokens += spent[0]
            used.cost_usd += spent[1]
            used.requests += 1
        self._writes.put((tenant, month), spent)
