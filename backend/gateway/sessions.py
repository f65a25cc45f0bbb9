"""Sign-in sessions: password sign-in (argon2, throttled per account and address), opaque tokens, sign-out."""
from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.gateway.identity import Identity, Unauthorized
from backend.gateway.passwords import hash_password, needs_rehash, verify_password
from backend.gateway.roles import ROLE_SCOPES, Clock, utc_now
from backend.settings import Settings
from backend.store import accounts as account_store
from backend.store import api_keys as key_store
from backend.store.audit import audit
from backend.store.db import Store

LANE = "gateway"
WRONG = "wrong user name or password"  # one message for an unknown name and a wrong password: names stay private
# Sign-in attempts are kept this long for the audit trail of throttling, then pruned at the next sign-in.
_ATTEMPTS_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: the token goes to the browser (cookie or session state); only its hash is stored."""

    token: str
    identity: Identity
    expires_at: datetime


def token_hash(token: str) -> str:
    # A plain sha256 is enough: the token is 256 random bits, so there is nothing to guess slowly.
    return hashlib.sha256(token.encode()).hexdigest()


def session_identity(user: str, tenant: str, role: str) -> Identity:
    return Identity(user=user, tenant=tenant, role=role, scopes=ROLE_SCOPES[role])


class Sessions:
    """Thread-safe: a cursor per call. Throttling counts failures in DuckDB, so it holds across restarts."""

    def __init__(self, store: Store, settings: Settings, clock: Clock = utc_now):
        self.store = store
        self.settings = settings
        self.clock = clock

    def sign_in(self, name: str, password: str, address: str | None = None) -> SignIn:
        """A new session for the user, or Unauthorized: wrong name or password, disabled, or throttled."""
        name = (name or "").strip()
        address = (address or "").strip()
        now = self.clock()
        self._throttle(name, address, now)
        with self.store.cursor() as cur:
            row = account_store.user_credentials(cur, name) if name else None
        # Verified even for an unknown name (against a dummy hash), so the time taken does not tell names apart.
        ok = verify_password(row["password_hash"] if row else None, password)
        if not ok or row is None:
            self._record(name, address, now, ok=False, reason="unknown user" if row is None else "wrong password")
            raise Unauthorized(WRONG)
        if row["disabled"]:
            self._record(name, address, now, ok=False, reason="disabled")
            raise Unauthorized(f"the account {name!r} is disabled; ask an admin")
        token = secrets.token_urlsafe(32)
        expires_at = now + timedelta(hours=self.settings.session_hours)
        new_hash = hash_password(password) if needs_rehash(row["password_hash"]) else None
        with self.store.transaction(LANE) as cur:
            key_store.insert_session(cur, token_hash(token), row["id"], now, expires_at)
            if new_hash:  # parameters were raised since this hash was made: store a stronger one
                account_store.set_password_hash(cur, row["id"], new_hash)
            self._record_in(cur, name, address, now, ok=True, reason="")
            key_store.delete_expired_sessions(cur, now)
            key_store.prune_attempts(cur, now - max(_ATTEMPTS_KEPT, self._window()))
        return SignIn(token, session_identity(row["name"], row["tenant"], row["role"]), expires_at)

    def resolve(self, token: str | None) -> Identity:
        """The session's identity with the user's current role, or Unauthorized (unknown, expired, disabled)."""
        if not token:
            raise Unauthorized("not signed in")
        with self.store.cursor() as cur:
            row = key_store.session_row(cur, token_hash(token))
        if row is None:
            raise Unauthorized("unknown or ended session; sign in again")
        if row["expires_at"] <= self.clock():
            with self.store.transaction(LANE) as cur:
                key_store.delete_session(cur, token_hash(token))
            raise Unauthorized("the session expired; sign in again")
        if row["disabled"]:
            raise Unauthorized(f"the account {row['user']!r} is disabled; ask an admin")
        return session_identity(row["user"], row["tenant"], row["role"])

    def sign_out(self, token: str | None) -> bool:
        """End the session; False when there was none (signing out twice is harmless)."""
        if not token:
            return False
        with self.store.transaction(LANE) as cur:
            row = key_store.session_row(cur, token_hash(token))
            ended = key_store.delete_session(cur, token_hash(token))
            if ended and row is not None:
                audit(cur, "sign_out", row["user"], {}, row["user"])
        return ended

    # --- throttling ----------------------------------------------------------------------
    def _window(self) -> timedelta:
        return timedelta(minutes=self.settings.sign_in_window_minutes)

    def _throttle(self, name: str, address: str, now: datetime) -> None:
        """Unauthorized, before any password is checked, when the account or the address failed too often
        within the window. A refused attempt is not counted, so the wait ends when the window passes."""
        since = now - self._window()
        with self.store.cursor() as cur:
            checks = [("this account", key_store.account_failures(cur, name, since), self.settings.sign_in_max_failures)]
            if address:
                checks.append(("this address", key_store.address_failures(cur, address, since),
                               self.settings.sign_in_max_failures_per_address))
        for who, failures, limit in checks:
            if len(failures) >= limit:
                # Allowed again when the failures inside the window drop below the limit.
                free_at = failures[len(failures) - limit] + self._window()
                minutes = max(1, math.ceil((free_at - now).total_seconds() / 60))
                with self.store.transaction(LANE) as cur:
                    audit(cur, "sign_in.throttled", name, {"address": address, "by": who, "failures": len(failures)},
                          "anonymous")
                raise Unauthorized(f"too many failed sign-ins for {who}; wait {minutes} minute"
                                   f"{'s' if minutes != 1 else ''} and try again")

    def _record(self, name: str, address: str, now: datetime, ok: bool, reason: str) -> None:
        with self.store.transaction(LANE) as cur:
            self._record_in(cur, name, address, now, ok, reason)

    def _record_in(self, cur, name: str, address: str, now: datetime, ok: bool, reason: str) -> None:
        key_store.insert_attempt(cur, name, address, ok, now)
        details = {"address": address} | ({"reason": reason} if reason else {})
        # A failed attempt's name is only what someone typed: it is the target, never the actor.
        audit(cur, "sign_in.ok" if ok else "sign_in.failed", name, details, name if ok else "anonymous")
