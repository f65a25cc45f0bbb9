"""API keys: created for a user with scopes and an optional expiry, shown once, stored as a hash, revocable."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Iterable

from backend.gateway.caches import ViewCache
from backend.gateway.identity import Identity, Unauthorized
from backend.gateway.roles import ROLE_SCOPES, Clock, check_scopes, to_utc, utc_now, weaker_role
from backend.gateway.write_behind import WriteBehind
from backend.models import InputError
from backend.store import accounts as account_store
from backend.store import api_keys as key_store
from backend.store.audit import audit
from backend.store.db import Store

LANE = "gateway"
# gw_<prefix>_<secret>: the prefix (8 hex characters) finds the row and is what people see in listings; the
# secret is 256 random bits. A recognisable "gw_" start lets secret scanners spot a leaked key.
_KEY = re.compile(r"^gw_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
# last_used_at is written at most once a minute per key: a DuckDB write on every request would cost more than
# the rest of authentication, and a minute is precise enough for "is this key still used?". Even that write is
# queued behind the request (flushed within a second, and before any listing).
_TOUCH_EVERY = timedelta(minutes=1)
# Authentication rows by prefix: every change that could alter one (revoke, the user's role, state or password,
# a new key) clears the cache as it commits, so these bounds only cap memory and a missed clear's damage.
_CACHED_KEYS = 10_000
_CACHED_FOR_S = 60.0


def _write_touches(cur, batch: dict[int, datetime]) -> None:
    for key_id, when in batch.items():
        key_store.touch_key(cur, key_id, when)


def key_hash(raw: str) -> str:
    # sha256, not argon2: the key is 256 random bits, so a fast hash is safe and keeps each request cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


def shown_prefix(prefix: str) -> str:
    """How a key is named to people: its start, which is not secret."""
    return f"gw_{prefix}"


class Keys:
    """Thread-safe: a cursor per call; creation and revocation commit with their audit row.

    `authenticate` reads no table on the hot path: the key's row (with its user's role and state) comes from a
    ViewCache, the secret's hash is still compared and the expiry, revocation and user state still checked on
    every call. `forget()` clears that cache: this class calls it on create and revoke, Accounts on user changes.
    """

    def __init__(self, store: Store, clock: Clock = utc_now, flush_every_s: float = 1.0):
        self.store = store
        self.clock = clock
        self._rows: ViewCache[str, dict] = ViewCache(_CACHED_KEYS, _CACHED_FOR_S)
        self._touched: dict[int, datetime] = {}  # key id -> the last last_used_at queued (newer than its row's)
        self._touches: WriteBehind[int, datetime] = WriteBehind(store, _write_touches, max, interval_s=flush_every_s,
                                                                name="gateway-key-use-writer")

    def forget(self) -> None:
        """Drop every cached authentication row: the next request of each key reads it again."""
        self._rows.clear()

    def flush(self) -> None:
        """Write the queued last_used_at times now."""
        self._touches.flush()

    def close(self) -> None:
        """Write the queued last_used_at times and stop their writer thread (before the store closes)."""
        self._touches.close()

    def create(self, user: str, scopes: Iterable[str], expires_at: datetime | None = None, name: str = "",
               actor: str = "system") -> tuple[str, dict]:
        """A new key for the user, bound to their tenant and role. Returns (the full key, its row): the full
        key exists only in this return value, so the caller shows it once."""
        now = self.clock()
        if expires_at is not None:
            expires_at = to_utc(expires_at)
            if expires_at <= now:
                raise InputError(f"expires_at: {expires_at.isoformat(timespec='seconds')} UTC is not in the future")
        if not isinstance(name, str) or len(name) > 100:
            raise InputError("name: at most 100 characters")
        with self.store.transaction(LANE) as cur:
            row = account_store.user_row(cur, user)
            if row is None:
                raise InputError(f"unknown user {user!r}")
            wanted = check_scopes(scopes, row["role"])
            prefix = secrets.token_hex(4)
            while key_store.prefix_taken(cur, prefix):  # 4 billion prefixes: a clash is rare, but never reused
                prefix = secrets.token_hex(4)
            raw = f"gw_{prefix}_{secrets.token_urlsafe(32)}"
            key_id = key_store.insert_key(cur, prefix, key_hash(raw), row["id"], row["tenant"], row["role"],
                                          sorted(wanted), name, now, expires_at)
            audit(cur, "key.create", shown_prefix(prefix),
                  {"id": key_id, "user": user, "scopes": sorted(wanted), "expires_at": expires_at}, actor)
            created = key_store.key_row(cur, key_id)
        self._rows.clear()  # a new key has no cached row (unknown prefixes are not cached): cleared all the same
        assert created is not None
        return raw, _public(created, now)

    def list_keys(self, user: str | None = None, tenant: str | None = None) -> list[dict]:
        """Keys (of a user, of a tenant, or all): prefix, scopes, dates; never the key or its hash."""
        self._touches.flush()  # last_used_at as of the last request, not of the last background write
        with self.store.cursor() as cur:
            user_id = None
            if user is not None:
                row = account_store.user_row(cur, user)
                if row is None:
                    raise InputError(f"unknown user {user!r}")
                user_id = row["id"]
            now = self.clock()
            return [_public(r, now) for r in key_store.list_keys(cur, user_id, tenant)]

    def revoke(self, key_id: int, actor: str = "system") -> dict:
        """Revoke the key from now on (revoking it again changes nothing): its next request is refused."""
        self._touches.flush()
        try:
            with self.store.transaction(LANE) as cur:
                row = key_store.key_row(cur, int(key_id))
                if row is None:
                    raise InputError(f"unknown API key id {key_id}")
                now = self.clock()
                if row["revoked_at"] is None:
                    key_store.revoke_key(cur, row["id"], now)
                    audit(cur, "key.revoke", shown_prefix(row["prefix"]), {"id": row["id"], "user": row["user"]},
                          actor)
                    row = key_store.key_row(cur, row["id"]) or row
        finally:
            self._rows.clear()  # after the commit: a request that read the row before it does not cache it
        return _public(row, now)

    def authenticate(self, raw: str | None) -> Identity:
        """The key's identity, or Unauthorized: malformed, unknown, revoked, expired, or its user disabled."""
        raw = (raw or "").strip()
        match = _KEY.match(raw)
        if not match:
            raise Unauthorized("invalid API key" if raw else "an API key is required (Authorization: Bearer gw_...)")
        row = self._row(match.group(1))
        # Compared in constant time, and the same message for an unknown prefix and a wrong secret.
        if row is None or not hmac.compare_digest(row["secret_sha256"], key_hash(raw)):
            raise Unauthorized("invalid API key")
        name = shown_prefix(row["prefix"])
        now = self.clock()
        if row["revoked_at"] is not None:
            raise Unauthorized(f"the API key {name} was revoked")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise Unauthorized(f"the API key {name} expired at {row['expires_at'].isoformat(timespec='seconds')} UTC")
        if row["user_disabled"]:
            raise Unauthorized(f"the API key {name} belongs to a disabled account")
        last_used = self._touched.get(row["id"]) or row["last_used_at"]
        if last_used is None or now - last_used >= _TOUCH_EVERY:
            self._touched[row["id"]] = now  # two threads racing here queue one write each: harmless
            self._touches.put(row["id"], now)
        # Never more than the user may do now: the weaker of the key's and the user's role, its scopes within it.
        role = weaker_role(row["role"], row["user_role"])
        return Identity(user=row["user"], tenant=row["tenant"], role=role, key_id=row["id"],
                        scopes=frozenset(row["scopes"]) & ROLE_SCOPES[role])

    def cached_row(self, raw: str | None) -> dict | None:
        """The authentication row of the key's prefix if it is cached (nothing read, nothing checked), else None."""
        match = _KEY.match((raw or "").strip())
        return self._rows.get(match.group(1)) if match else None

    def _row(self, prefix: str) -> dict | None:
        """The authentication row of the prefix: cached, else read (and cached unless a change came meanwhile).
        Unknown prefixes are never cached, so guessing cannot fill the cache."""
        row = self._rows.get(prefix)
        if row is None:
            generation = self._rows.generation()
            with self.store.cursor() as cur:
                row = key_store.key_for_authentication(cur, prefix)
            if row is not None:
                self._rows.put(prefix, row, generation)
        return row


def _public(row: dict, now: datetime) -> dict:
    """A key row as callers see it: the shown prefix and a status, nothing that could rebuild the key."""
    out = {k: v for k, v in row.items() if k not in ("secret_sha256", "user_id")}
    out["prefix"] = shown_prefix(out["prefix"])
    expired = out["expires_at"] is not None and out["expires_at"] <= now
    out["status"] = "revoked" if out["revoked_at"] is not None else "expired" if expired else "active"
    return out
