"""Sign-in sessions: password sign-in (argon2, throttled), opaque tokens, one-time cookie codes, sign-out."""
from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.gateway.identity import Identity, Unauthorized
from backend.gateway.passwords import hash_password, needs_rehash, verify_password
from backend.gateway.roles import ROLE_SCOPES, Clock, utc_now
from backend.models import InputError
from backend.settings import Settings
from backend.store import accounts as account_store
from backend.store import api_keys as key_store
from backend.store import session_codes as code_store
from backend.store.audit import audit
from backend.store.db import Store

LANE = "gateway"
WRONG = "wrong user name or password"  # one message for an unknown name and a wrong password: names stay private
# Sign-in attempts are kept this long for the audit trail of throttling, then pruned at the next sign-in.
_ATTEMPTS_KEPT = timedelta(days=1)
_CODE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32), as issue_code makes it
_SEAL_CONTEXT = b"groundwork session code seal"


class SessionEnded(Unauthorized):
    """The session a token named is gone: it expired, was signed out, or its user was disabled or changed password."""


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


def _pad(code: str) -> bytes:
    return hmac.new(code.encode(), _SEAL_CONTEXT, hashlib.sha256).digest()


def _seal(token: str, code: str) -> str:
    """The token's 32 bytes XOR a pad only the code can make. The pad is HMAC-SHA256 keyed with the code's 256
    random bits and used for this one token only (a one-time pad from a PRF), so the stored row reveals nothing
    without the code, which is stored only as its sha256."""
    raw = base64.urlsafe_b64decode(token + "=")
    return bytes(a ^ b for a, b in zip(raw, _pad(code), strict=True)).hex()


def _unseal(sealed: str, code: str) -> str:
    raw = bytes(a ^ b for a, b in zip(bytes.fromhex(sealed), _pad(code), strict=True))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def check_code(code) -> str:
    """The code as given in the URL, or InputError naming the field `code`."""
    if not isinstance(code, str) or not code:
        raise InputError("code: missing; the sign-in page sends the browser here with one", field="code")
    if not _CODE.match(code):
        raise InputError("code: not a sign-in code (43 letters, digits, '-' or '_')", field="code")
    return code


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
        new_hash = hash_password(password) if needs_rehash(row["password_hash"]) else None
        with self.store.transaction(LANE) as cur:
            signed = self.issue(cur, row, now)
            if new_hash:  # parameters were raised since this hash was made: store a stronger one
                account_store.set_password_hash(cur, row["id"], new_hash)
            self._record_in(cur, name, address, now, ok=True, reason="")
            key_store.prune_attempts(cur, now - max(_ATTEMPTS_KEPT, self._window()))
        return signed

    def issue(self, cur, user: dict, now: datetime) -> SignIn:
        """A new session for the user row (id, name, tenant, role), inside the caller's gateway transaction: how
        every way of signing in (password, OpenID Connect) ends."""
        token = secrets.token_urlsafe(32)
        expires_at = now + timedelta(hours=self.settings.session_hours)
        key_store.insert_session(cur, token_hash(token), user["id"], now, expires_at)
        key_store.delete_expired_sessions(cur, now)
        return SignIn(token, session_identity(user["name"], user["tenant"], user["role"]), expires_at)

    # --- the one-time code that hands a session to the browser's cookie ------------------------
    def issue_code(self, token: str) -> str:
        """A single-use code, valid for session_code_seconds, that /auth/session swaps for the session's cookie.
        The session must be live; the code is what goes in a URL, never the token."""
        self.resolve(token)
        code = secrets.token_urlsafe(32)
        now = self.clock()
        expires_at = now + timedelta(seconds=self.settings.session_code_seconds)
        with self.store.transaction(LANE) as cur:
            code_store.delete_expired_codes(cur, now)
            code_store.insert_code(cur, token_hash(code), _seal(token, code), token_hash(token), now, expires_at)
        return code

    def redeem_code(self, code) -> SignIn:
        """The session the code hands over, once: InputError for a malformed code, Unauthorized for an unknown,
        used or expired one, or for a session that ended meanwhile."""
        check_code(code)
        now = self.clock()
        with self.store.transaction(LANE) as cur:
            row = code_store.take_code(cur, token_hash(code))
        if row is None:
            raise Unauthorized("code: unknown or already used sign-in code; sign in again")
        if row["expires_at"] <= now:
            seconds = f"{self.settings.session_code_seconds:g}"
            raise Unauthorized(f"code: the sign-in code expired (it lasts {seconds} seconds); sign in again")
        token = _unseal(row["sealed_token"], code)
        if token_hash(token) != row["token_sha256"]:  # XOR is malleable: an altered row unseals to another token
            raise Unauthorized("code: unknown or already used sign-in code; sign in again")
        identity, expires_at = self._live(token)
        return SignIn(token, identity, expires_at)

    def resolve(self, token: str | None) -> Identity:
        """The session's identity with the user's current role, or Unauthorized (unknown, expired, disabled)."""
        return self._live(token)[0]

    def _live(self, token: str | None) -> tuple[Identity, datetime]:
        """The session's identity and expiry, or Unauthorized."""
        if not token:
            raise Unauthorized("not signed in")
        with self.store.cursor() as cur:
            row = key_store.session_row(cur, token_hash(token))
        if row is None:
            raise SessionEnded("unknown or ended session; sign in again")
        if row["expires_at"] <= self.clock():
            with self.store.transaction(LANE) as cur:
                key_store.delete_session(cur, token_hash(token))
            raise SessionEnded("the session expired; sign in again")
        if row["disabled"]:
            raise Unauthorized(f"the account {row['user']!r} is disabled; ask an admin")
        return session_identity(row["user"], row["tenant"], row["role"]), row["expires_at"]

    def sign_out(self, token: str | None) -> bool:
        """End the session; False when there was none (signing out twice is harmless)."""
        if not token:
            return False
        with self.store.transaction(LANE) as cur:
            row = key_store.session_row(cur, token_hash(token))
            code_store.delete_session_codes(cur, token_hash(token))
            ended = key_store.delete_session(cur, token_hash(token))
            if ended and row is not None:
                audit(cur, "sign_out", row["user"], {}, row["user"])
        return ended

    def sign_out_everywhere(self, token: str | None) -> int:
        """End every session of the token's user (other browsers and devices too): how many ended, 0 when the
        token names no session."""
        if not token:
            return 0
        with self.store.transaction(LANE) as cur:
            row = key_store.session_row(cur, token_hash(token))
            if row is None:
                return 0
            code_store.delete_user_codes(cur, row["user_id"])
            ended = key_store.delete_user_sessions(cur, row["user_id"])
            audit(cur, "sign_out.everywhere", row["user"], {"sessions_ended": ended}, row["user"])
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
