"""From a resolved Identity to the RequestContext every backend read is scoped by (tenant, role, grants)."""
from __future__ import annotations

from backend.context import RequestContext
from backend.gateway.identity import ROLES, Forbidden, Identity
from backend.settings import Settings


def context_for(identity: Identity, settings: Settings, granted: frozenset[str] = frozenset()) -> RequestContext:
    """The caller's RequestContext.

    admin: every tenant, every collection. operator and stakeholder: every collection of their tenant. analyst:
    only the collections in `granted` (their groups' grants) that belong to their tenant; with no grant they read
    nothing (an empty set), never everything (None).
    """
    if identity.role not in ROLES:
        raise Forbidden(f"unknown role {identity.role!r}")
    if identity.role == "admin":
        return RequestContext(settings=settings, user=identity.user, tenant=identity.tenant, role="admin")
    collections = frozenset(granted) if identity.role == "analyst" else None
    return RequestContext.for_tenant(settings, identity.tenant, user=identity.user, role=identity.role,
                                     collections=collections)
