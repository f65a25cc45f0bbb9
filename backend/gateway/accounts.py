"""Tenants, users, groups, members and collection grants; and bootstrap, the accounts a first start creates."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from backend.gateway.caches import ViewCache
from backend.gateway.passwords import check_password, generate_password, hash_password, verify_password
from backend.gateway.roles import Clock, check_name, check_role, utc_now
from backend.models import InputError
from backend.settings import Settings
from backend.store import accounts as account_store
from backend.store import api_keys as key_store
from backend.store.audit import audit
from backend.store.db import Store

LANE = "gateway"
ADMIN = "admin"
# The demo data's accounts: one per role below admin, in the default tenant; the analyst sees the demo
# collection through the demo group's grant.
DEMO_USERS = {"demo-operator": "operator", "demo-analyst": "analyst", "demo-stakeholder": "stakeholder"}
DEMO_GROUP = "demo-analysts"
# Each analyst's granted collections, read on every request of theirs: cleared by every change of users, groups,
# members and grants as it commits, so the bounds only cap memory.
_CACHED_USERS = 10_000
_CACHED_FOR_S = 60.0


class Accounts:
    """Thread-safe: a DuckDB cursor per call; every change and its audit row commit in one gateway transaction.

    Grants are served from a ViewCache; every change here clears it, and calls the `on_change` listeners (the
    Gateway's API-key cache), once committed: the next request sees the change.
    """

    def __init__(self, store: Store, clock: Clock = utc_now, on_change: Callable[[], None] | None = None):
        self.store = store
        self.clock = clock
        self._grants: ViewCache[str, frozenset[str]] = ViewCache(_CACHED_USERS, _CACHED_FOR_S)
        self._listeners: list[Callable[[], None]] = [on_change] if on_change is not None else []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every change of users, groups, members or grants, once committed (or rolled back)."""
        self._listeners.append(listener)

    def forget(self) -> None:
        """Drop every cached view of accounts here and in the listeners."""
        self._grants.clear()
        for listener in self._listeners:
            listener()

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Around a change's transaction: the caches are cleared after its COMMIT (or rollback), never before, so
        no request caches the old rows after the change returned."""
        try:
            yield
        finally:
            self.forget()

    # --- tenants -------------------------------------------------------------------------
    def create_tenant(self, name: str, description: str = "", actor: str = "system") -> dict:
        check_name(name, "tenant")
        with self.store.transaction(LANE) as cur:
            if account_store.tenant_row(cur, name) is not None:
                raise InputError(f"tenant {name!r} already exists")
            account_store.insert_tenant(cur, name, description, self.clock())
            audit(cur, "tenant.create", name, {}, actor)
            return account_store.tenant_row(cur, name) or {}

    def tenants(self) -> list[dict]:
        with self.store.cursor() as cur:
            return account_store.list_tenants(cur)

    def _require_tenant(self, cur, name: str) -> None:
        if account_store.tenant_row(cur, name) is None:
            known = ", ".join(account_store.tenant_names(cur)) or "none yet"
            raise InputError(f"tenant {name!r} does not exist (tenants: {known}); create it first")

    # --- users ---------------------------------------------------------------------------
    def create_user(self, name: str, tenant: str, role: str, password: str, actor: str = "system") -> dict:
        """A new enabled user; the password is stored only as its argon2 hash."""
        check_name(name, "user")
        check_role(role)
        password_hash = hash_password(password)  # outside the transaction: 0.1-0.2 s of CPU
        with self.store.transaction(LANE) as cur:
            self._require_tenant(cur, tenant)
            if account_store.user_row(cur, name) is not None:
                raise InputError(f"user {name!r} already exists")
            account_store.insert_user(cur, name, tenant, role, password_hash, self.clock())
            audit(cur, "user.create", name, {"tenant": tenant, "role": role}, actor)
            return self._require_user(cur, name)

    def user(self, name: str) -> dict:
        with self.store.cursor() as cur:
            return self._require_user(cur, name)

    def users(self, tenant: str | None = None) -> list[dict]:
        with self.store.cursor() as cur:
            return account_store.list_users(cur, tenant)

    def _require_user(self, cur, name: str) -> dict:
        row = account_store.user_row(cur, name)
        if row is None:
            raise InputError(f"unknown user {name!r}")
        return row

    def set_role(self, name: str, role: str, actor: str = "system") -> dict:
        """Change the user's role; their API keys follow it, and sessions pick it up on their next request."""
        check_role(role)
        with self._changing(), self.store.transaction(LANE) as cur:
            row = self._require_user(cur, name)
            if row["role"] != role:
                account_store.set_user_role(cur, row["id"], role)
                key_store.set_keys_role(cur, row["id"], role)
                audit(cur, "user.role", name, {"from": row["role"], "to": role}, actor)
            return self._require_user(cur, name)

    def disable(self, name: str, actor: str = "system") -> dict:
        """The user can no longer sign in or use a key; their sessions end now."""
        return self._set_disabled(name, True, actor)

    def enable(self, name: str, actor: str = "system") -> dict:
        return self._set_disabled(name, False, actor)

    def _set_disabled(self, name: str, disabled: bool, actor: str) -> dict:
        with self._changing(), self.store.transaction(LANE) as cur:
            row = self._require_user(cur, name)
            if row["disabled"] != disabled:
                account_store.set_user_disabled(cur, row["id"], disabled)
                ended = key_store.delete_user_sessions(cur, row["id"]) if disabled else 0
                audit(cur, "user.disable" if disabled else "user.enable", name,
                      {"sessions_ended": ended} if disabled else {}, actor)
            return self._require_user(cur, name)

    def change_password(self, name: str, new_password: str, actor: str = "system",
                        current_password: str | None = None) -> None:
        """Set a new password (checking the current one when given: a user changing their own); every session
        of the user ends, so a stolen session does not outlive the password it came from."""
        check_password(new_password, "new password")
        with self.store.cursor() as cur:
            row = account_store.user_credentials(cur, name)
        if row is None:
            raise InputError(f"unknown user {name!r}")
        if current_password is not None and not verify_password(row["password_hash"], current_password):
            raise InputError("current password: it does not match")
        password_hash = hash_password(new_password)
        with self._changing(), self.store.transaction(LANE) as cur:
            account_store.set_password_hash(cur, row["id"], password_hash)
            ended = key_store.delete_user_sessions(cur, row["id"])
            audit(cur, "user.password", name, {"sessions_ended": ended}, actor)

    # --- groups, members, grants ---------------------------------------------------------
    def create_group(self, name: str, tenant: str, actor: str = "system") -> dict:
        check_name(name, "group")
        with self.store.transaction(LANE) as cur:
            self._require_tenant(cur, tenant)
            if account_store.group_row(cur, name) is not None:
                raise InputError(f"group {name!r} already exists")
            account_store.insert_group(cur, name, tenant, self.clock())
            audit(cur, "group.create", name, {"tenant": tenant}, actor)
            return self._require_group(cur, name)

    def groups(self, tenant: str | None = None) -> list[dict]:
        with self.store.cursor() as cur:
            return account_store.list_groups(cur, tenant)

    def _require_group(self, cur, name: str) -> dict:
        row = account_store.group_row(cur, name)
        if row is None:
            raise InputError(f"unknown group {name!r}")
        return row

    def add_member(self, group: str, user: str, actor: str = "system") -> bool:
        """Put the user in the group (both of one tenant); False when they were in it already."""
        with self._changing(), self.store.transaction(LANE) as cur:
            group_row, user_row = self._require_group(cur, group), self._require_user(cur, user)
            if group_row["tenant"] != user_row["tenant"]:
                raise InputError(f"user {user!r} is in tenant {user_row['tenant']!r}, group {group!r} in "
                                 f"{group_row['tenant']!r}: a group holds users of its own tenant only")
            added = account_store.add_member(cur, group_row["id"], user_row["id"], self.clock())
            if added:
                audit(cur, "group.member_add", group, {"user": user}, actor)
            return added

    def remove_member(self, group: str, user: str, actor: str = "system") -> bool:
        with self._changing(), self.store.transaction(LANE) as cur:
            group_row, user_row = self._require_group(cur, group), self._require_user(cur, user)
            removed = account_store.remove_member(cur, group_row["id"], user_row["id"])
            if removed:
                audit(cur, "group.member_remove", group, {"user": user}, actor)
            return removed

    def grant(self, group: str, collection: str, actor: str = "system") -> bool:
        """Let the group's members read the collection; False when they could already.

        The collection may not exist yet (the demo group is granted `demo` before the first ingest); one that
        exists must be of the group's tenant, since a grant never crosses tenants."""
        if not isinstance(collection, str) or not collection:
            raise InputError("collection: a collection name is required")
        with self._changing(), self.store.transaction(LANE) as cur:
            group_row = self._require_group(cur, group)
            owner = account_store.collection_tenant(cur, collection)
            if owner is not None and owner != group_row["tenant"]:
                raise InputError(f"collection {collection!r} belongs to tenant {owner!r}, group {group!r} to "
                                 f"{group_row['tenant']!r}: a grant never crosses tenants")
            added = account_store.insert_grant(cur, group_row["id"], collection, self.clock())
            if added:
                audit(cur, "grant.add", collection, {"group": group, "tenant": group_row["tenant"]}, actor)
            return added

    def revoke_grant(self, group: str, collection: str, actor: str = "system") -> bool:
        with self._changing(), self.store.transaction(LANE) as cur:
            group_row = self._require_group(cur, group)
            removed = account_store.delete_grant(cur, group_row["id"], collection)
            if removed:
                audit(cur, "grant.revoke", collection, {"group": group, "tenant": group_row["tenant"]}, actor)
            return removed

    def grants_cached(self, user: str) -> bool:
        return self._grants.get(user) is not None

    def granted_collections(self, user: str) -> frozenset[str]:
        """The collections the user's groups are granted (of any tenant: RequestContext keeps it to theirs)."""
        granted = self._grants.get(user)
        if granted is not None:
            return granted
        generation = self._grants.generation()  # taken before the read: see ViewCache
        with self.store.cursor() as cur:
            row = self._require_user(cur, user)
            granted = frozenset(account_store.granted_collections(cur, row["id"]))
        self._grants.put(user, granted, generation)
        return granted


def bootstrap(platform_or_store: Any, settings: Settings, demo: bool = True, clock: Clock = utc_now,
              accounts: Accounts | None = None) -> dict[str, str]:
    """First start: the default tenant, the `admin` account and (with `demo`) one demo user per role and the
    demo group granted the default collection. Returns {user: one-time password} for the accounts it created
    with a generated password, for the caller to show once (nothing here logs them). Idempotent: on a later
    start everything exists, so it creates nothing and returns {}.

    The admin's password is GROUNDWORK_ADMIN_PASSWORD when set (then not returned), else generated: there is
    no default password.

    `accounts`: the Gateway's own (a platform's is found), so its caches hear of what bootstrap changes."""
    store: Store = getattr(platform_or_store, "store", platform_or_store)
    gateway = getattr(platform_or_store, "gateway", None)
    accounts = accounts or (gateway.accounts if gateway is not None else Accounts(store, clock))
    tenant = settings.default_tenant
    secrets_out: dict[str, str] = {}
    with store.cursor() as cur:
        if account_store.tenant_row(cur, tenant) is None:
            accounts.create_tenant(tenant, "created on first start")
        existing = {u["name"] for u in account_store.list_users(cur)}
    if ADMIN not in existing:
        given = settings.admin_password.get_secret_value()
        if given:
            check_password(given, "GROUNDWORK_ADMIN_PASSWORD")
        password = given or generate_password()
        accounts.create_user(ADMIN, tenant, "admin", password)
        if not given:
            secrets_out[ADMIN] = password
    if not demo:
        return secrets_out
    for name, role in DEMO_USERS.items():
        if name not in existing:
            password = generate_password()
            accounts.create_user(name, tenant, role, password)
            secrets_out[name] = password
    with store.cursor() as cur:
        has_group = account_store.group_row(cur, DEMO_GROUP) is not None
    if not has_group:
        accounts.create_group(DEMO_GROUP, tenant)
        accounts.grant(DEMO_GROUP, settings.default_collection)
    if "demo-analyst" not in existing:
        accounts.add_member(DEMO_GROUP, "demo-analyst")
    return secrets_out
