"""Who a request comes from, and the errors the gateway answers with (each maps to one HTTP status)."""
from __future__ import annotations

from dataclasses import dataclass, field

from backend.models import Forbidden as Forbidden  # re-exported: the gateway's errors live here
from backend.models import GroundworkError

# Roles, most powerful first. admin: everything; operator: corpus, operations, evaluation of their tenants;
# analyst: chat and read-only documents of the collections granted to them; stakeholder: economics pages
# and read-only dashboards.
ROLES = ("admin", "operator", "analyst", "stakeholder")
# API key scopes: what a key may do beyond reading (a key never exceeds its user's role).
SCOPES = ("read", "ask", "ingest", "tickets", "admin")


@dataclass(frozen=True)
class Identity:
    """A signed-in user or an API key's holder, as the gateway resolved it for one request."""

    user: str  # the user name; every key belongs to a user
    tenant: str
    role: str  # one of ROLES
    key_id: int | None = None  # set when the request came with an API key
    scopes: frozenset[str] = field(default_factory=frozenset)  # the key's scopes (a session has every scope of its role)

    def is_admin(self) -> bool:
        return self.role == "admin"


class Unauthorized(GroundworkError):
    """401: no valid session or key (wrong password, unknown, expired or revoked key)."""


class RateLimited(GroundworkError):
    """429: too many requests; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = int(retry_after)


class QuotaExceeded(GroundworkError):
    """429 (with a quota message): the tenant's monthly token or cost quota is used up; checked before generation."""
