"""The Gateway: accounts, sessions, API keys, rate limits, quotas and the audit log over one Store and Settings."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from backend.context import RequestContext
from backend.gateway import accounts as accounts_module
from backend.gateway.accounts import Accounts
from backend.gateway.context import context_for
from backend.gateway.identity import Identity
from backend.gateway.keys import Keys
from backend.gateway.limits import RateLimits
from backend.gateway.oidc import OidcSignIn
from backend.gateway.quotas import Quotas
from backend.gateway.roles import Clock, require_role, require_scope, utc_now, weaker_role
from backend.gateway.sessions import Sessions, SignIn
from backend.settings import Settings
from backend.store import audit as audit_store
from backend.store.db import Store

LANE = "gateway"


class Gateway:
    """Who calls and what they may do, for every door (pages, HTTP API, MCP). One per root Platform.

    Thread-safe: every call takes its own DuckDB cursor and writes in the store's gateway lane; the rate limiter's
    storage locks per counter. `clock` (naive UTC) is there so tests can move time for expiry and throttling.

    An API request reads no table here: key rows and grants are cached (cleared by the changes made through this
    Gateway, which is every change, since this process owns the store), quotas are kept in memory, and usage and
    key last-use times are written behind the request. `close()` writes what is queued: before the store closes.
    """

    def __init__(self, store: Store, settings: Settings, clock: Clock = utc_now):
        self.store = store
        self.settings = settings
        self.keys = Keys(store, clock)
        # A user's role, state or password changes what their keys may do: the key cache hears of every change.
        self.accounts = Accounts(store, clock, on_change=self.keys.forget)
        self.sessions = Sessions(store, settings, clock)
        self.oidc = OidcSignIn(store, settings, self.accounts, self.sessions, clock)
        self.limits = RateLimits(settings)
        self.quotas = Quotas(store, clock)

    def flush(self) -> None:
        """Write the queued usage and key last-use times to DuckDB now (readers of those rows do it themselves)."""
        self.quotas.flush()
        self.keys.flush()

    def close(self) -> None:
        """Write what is queued and stop the writer threads; the Platform calls it before closing the store. Calls
        after it still work (their writes are then made at once)."""
        self.quotas.close()
        self.keys.close()

    # --- first start ---------------------------------------------------------------------
    def bootstrap(self, demo: bool = True) -> dict[str, str]:
        """The default tenant, the admin and the demo accounts if missing: {user: one-time password} to show once."""
        return accounts_module.bootstrap(self.store, self.settings, demo=demo, clock=self.accounts.clock,
                                         accounts=self.accounts)

    # --- who calls -----------------------------------------------------------------------
    def authenticate_key(self, raw: str | None) -> Identity:
        """The identity of `Authorization: Bearer <raw>`, or Unauthorized."""
        return self.keys.authenticate(raw)

    def authorises_in_memory(self, raw: str | None) -> bool:
        """Whether authenticating this key, counting its request and building its context need no I/O: its row
        and (for an analyst) its grants are cached and the limiter counts in this process. The HTTP gate then does
        them on the event loop rather than paying a worker thread's hop (a DuckDB read there would stall it)."""
        row = self.keys.cached_row(raw)
        if row is None or not self.limits.in_memory:
            return False
        return weaker_role(row["role"], row["user_role"]) != "analyst" or self.accounts.grants_cached(row["user"])

    def sign_in(self, name: str, password: str, address: str | None = None) -> SignIn:
        return self.sessions.sign_in(name, password, address)

    def resolve_session(self, token: str | None) -> Identity:
        return self.sessions.resolve(token)

    def sign_out(self, token: str | None) -> bool:
        return self.sessions.sign_out(token)

    def sign_out_everywhere(self, token: str | None) -> int:
        """End every session of the token's user (all browsers): how many ended."""
        return self.sessions.sign_out_everywhere(token)

    def issue_session_code(self, token: str) -> str:
        """The one-time code /auth/session swaps for the session's HttpOnly cookie (the token never goes in a URL)."""
        return self.sessions.issue_code(token)

    def redeem_session_code(self, code: str | None) -> SignIn:
        return self.sessions.redeem_code(code)

    def sign_in_oidc(self, claims: Mapping[str, Any], provider: str = "default") -> SignIn:
        """A session for an OpenID Connect user (claims from st.user), mapped by the oidc_* settings."""
        return self.oidc.sign_in(claims, provider)

    def context_for(self, identity: Identity) -> RequestContext:
        """The RequestContext the caller's reads are scoped by (grants cached, cleared by every change of them)."""
        granted = self.accounts.granted_collections(identity.user) if identity.role == "analyst" else frozenset()
        return context_for(identity, self.settings, granted)

    def require_scope(self, identity: Identity, scope: str) -> None:
        require_scope(identity, scope)

    def require_role(self, identity: Identity, *roles: str) -> None:
        require_role(identity, *roles)

    # --- limits and quotas ---------------------------------------------------------------
    def check_rate(self, identity: Identity, route: str) -> None:
        """Count this request; RateLimited (with retry_after seconds) past the per-key, per-user or per-route limit."""
        self.limits.check(identity, route)

    def check_quota(self, tenant: str) -> None:
        """QuotaExceeded when the tenant's monthly tokens or cost are used up: call before generation."""
        self.quotas.check(tenant)

    def record_usage(self, tenant: str, tokens: int, cost_usd: float) -> None:
        self.quotas.record(tenant, tokens, cost_usd)

    def set_quota(self, tenant: str, monthly_tokens: int | None = None, monthly_cost_usd: float | None = None,
                  actor: str = "system") -> dict:
        return self.quotas.set(tenant, monthly_tokens, monthly_cost_usd, actor)

    def usage(self, tenant: str) -> dict:
        return self.quotas.usage(tenant)

    def usage_history(self, tenant: str | None = None) -> list[dict]:
        return self.quotas.history(tenant)

    # --- audit ---------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, details: dict | None = None) -> None:
        """Append a row to the audit log (settings changes, exports, anything a door does on a caller's behalf)."""
        with self.store.transaction(LANE) as cur:
            audit_store.audit(cur, action, target, details, actor)

    def audit_log(self, limit: int = 200, action: str | None = None, actor: str | None = None,
                  target: str | None = None) -> list[dict]:
        """Newest first; `action` matches a prefix ('key' finds key.create and key.revoke)."""
        with self.store.cursor() as cur:
            return audit_store.audit_rows(cur, limit, action, actor, target)

    # --- API keys ------------------------------------------------------------------------
    def create_key(self, user: str, scopes: Iterable[str], expires_at: datetime | None = None, name: str = "",
                   actor: str = "system") -> tuple[str, dict]:
        """(the full key, shown once; its row with the prefix only)."""
        return self.keys.create(user, scopes, expires_at, name, actor)

    def list_keys(self, user: str | None = None, tenant: str | None = None) -> list[dict]:
        return self.keys.list_keys(user, tenant)

    def revoke_key(self, key_id: int, actor: str = "system") -> dict:
        return self.keys.revoke(key_id, actor)

    # --- accounts ------------------------------------------------------------------------
    def create_tenant(self, name: str, description: str = "", actor: str = "system") -> dict:
        return self.accounts.create_tenant(name, description, actor)

    def tenants(self) -> list[dict]:
        return self.accounts.tenants()

    def create_user(self, name: str, tenant: str, role: str, password: str, actor: str = "system") -> dict:
        return self.accounts.create_user(name, tenant, role, password, actor)

    def user(self, name: str) -> dict:
        return self.accounts.user(name)

    def users(self, tenant: str | None = None) -> list[dict]:
        return self.accounts.users(tenant)

    def set_role(self, user: str, role: str, actor: str = "system") -> dict:
        return self.accounts.set_role(user, role, actor)

    def disable_user(self, user: str, actor: str = "system") -> dict:
        return self.accounts.disable(user, actor)

    def enable_user(self, user: str, actor: str = "system") -> dict:
        return self.accounts.enable(user, actor)

    def change_password(self, user: str, new_password: str, actor: str = "system",
                        current_password: str | None = None) -> None:
        self.accounts.change_password(user, new_password, actor, current_password)

    def create_group(self, name: str, tenant: str, actor: str = "system") -> dict:
        return self.accounts.create_group(name, tenant, actor)

    def groups(self, tenant: str | None = None) -> list[dict]:
        return self.accounts.groups(tenant)

    def add_member(self, group: str, user: str, actor: str = "system") -> bool:
        return self.accounts.add_member(group, user, actor)

    def remove_member(self, group: str, user: str, actor: str = "system") -> bool:
        return self.accounts.remove_member(group, user, actor)

    def grant(self, group: str, collection: str, actor: str = "system") -> bool:
        return self.accounts.grant(group, collection, actor)

    def revoke_grant(self, group: str, collection: str, actor: str = "system") -> bool:
        return self.accounts.revoke_grant(group, collection, actor)
