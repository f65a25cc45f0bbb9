"""What each role may do (its scopes), and the checks of role, scope and name values the gateway accepts."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Callable, Iterable

from backend.clock import utc_now as utc_now  # re-exported: this package's modules take time from here
from backend.gateway.identity import ROLES, SCOPES, Forbidden, Identity
from backend.models import InputError

# A session carries every scope of its role; an API key carries the scopes it was created with, never more than
# its role's (an analyst cannot mint an ingest key). "read" is what every signed-in caller has.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "operator": frozenset({"read", "ask", "ingest", "tickets"}),
    "analyst": frozenset({"read", "ask", "tickets"}),
    "stakeholder": frozenset({"read"}),
}

# Names of users, tenants and groups: they appear in URLs, audit rows and log lines, so no spaces or quotes.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

Clock = Callable[[], datetime]


def to_utc(moment: datetime) -> datetime:
    """A datetime as naive UTC (an aware one converted; a naive one taken as UTC already)."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def check_name(name, field: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"{field} {name!r}: use 1-64 letters, digits, '-', '_', '.' or '@', starting with a letter or digit")
    return name


def check_role(role, field: str = "role") -> str:
    if role not in ROLES:
        raise InputError(f"{field} {role!r} is not a role (roles: {', '.join(ROLES)})")
    return role


def check_scopes(scopes: Iterable[str], role: str) -> frozenset[str]:
    """The scopes as a set: each one known, together not beyond what the role may do, at least one."""
    if isinstance(scopes, str):
        scopes = [s for s in re.split(r"[,\s]+", scopes) if s]  # "read,ask" as typed on a form or a command line
    wanted = frozenset(scopes)
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InputError(f"scopes: unknown scope {', '.join(map(repr, unknown))} (scopes: {', '.join(SCOPES)})")
    if not wanted:
        raise InputError(f"scopes: give at least one (scopes: {', '.join(SCOPES)})")
    beyond = sorted(wanted - ROLE_SCOPES[role])
    if beyond:
        allowed = ", ".join(s for s in SCOPES if s in ROLE_SCOPES[role])
        raise InputError(f"scopes: {', '.join(beyond)} exceeds the role {role} (allowed: {allowed})")
    return wanted


def weaker_role(a: str, b: str) -> str:
    """The less powerful of two roles (ROLES lists the most powerful first)."""
    return a if ROLES.index(a) >= ROLES.index(b) else b


def require_scope(identity: Identity, scope: str) -> None:
    """Forbidden unless the caller (a key's scopes, or a session's role) may do `scope`."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    if scope not in identity.scopes:
        how = "this API key lacks" if identity.key_id is not None else f"the role {identity.role} lacks"
        raise Forbidden(f"{how} the scope {scope!r}")


def require_role(identity: Identity, *roles: str) -> None:
    """Forbidden unless the caller has one of the roles (admin always passes)."""
    if identity.role != "admin" and identity.role not in roles:
        raise Forbidden(f"the role {identity.role} may not do this (needs: {', '.join(('admin', *roles))})")
