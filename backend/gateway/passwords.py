"""Password hashing with argon2id (argon2-cffi): hash, verify, and whether a stored hash needs upgrading."""
from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from backend.models import InputError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps a 10 MB "password" from becoming a CPU sink

# argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4): about 0.1-0.2 s a hash
# on a shared CPU, slow for guessing, fast enough for a sign-in. Raising them later makes needs_rehash true, and
# sign-in rehashes then.
_HASHER = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so an unknown name costs the same time as a wrong
    password (the time would otherwise tell which names exist). Made on first use: a hash costs 0.1-0.2 s."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def check_password(password: str, field: str = "password") -> str:
    """The password if it is acceptable, else an InputError naming the field (never echoing the value)."""
    if not isinstance(password, str) or not password:
        raise InputError(f"{field}: a password is required")
    if len(password) < MIN_LENGTH:
        raise InputError(f"{field}: use at least {MIN_LENGTH} characters (got {len(password)})")
    if len(password) > MAX_LENGTH:
        raise InputError(f"{field}: use at most {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    """The argon2id PHC string (salt and parameters inside) for a password that passed check_password."""
    return _HASHER.hash(check_password(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; False for a mismatch, a malformed hash or no hash (unknown account)."""
    if not isinstance(password, str) or len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Was this hash made with weaker parameters than the current ones (then sign-in stores a new one)?"""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def generate_password() -> str:
    """A one-time secret for a new account: 24 URL-safe characters (144 bits) from `secrets`."""
    return secrets.token_urlsafe(18)
