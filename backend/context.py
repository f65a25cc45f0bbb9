"""The request context: who asks, for which tenant, with which settings; passed down every read path."""
from __future__ import annotations

from dataclasses import dataclass

from backend.settings import Settings

SYSTEM = "system"
# Roles that change the corpus and start evaluations; analysts and stakeholders only read.
WRITERS = frozenset({"admin", "operator"})


@dataclass(frozen=True)
class RequestContext:
    """One caller's identity and scope. Every backend read takes one and filters by it inside the backend.

    `tenants` is the set of tenants whose collections the caller may read (None: every tenant, for the
    system itself: CLI on the local file, migrations, evaluation). `collections`, when set, narrows the
    readable collections further (a user's grants).
    """

    settings: Settings
    user: str = SYSTEM
    tenant: str = "default"
    role: str = "admin"
    tenants: frozenset[str] | None = None
    collections: frozenset[str] | None = None

    @classmethod
    def system(cls, settings: Settings) -> RequestContext:
        """The platform acting for itself on the default tenant, allowed to read every tenant."""
        return cls(settings=settings, tenant=settings.default_tenant)

    @classmethod
    def for_tenant(cls, settings: Settings, tenant: str, user: str = SYSTEM, role: str = "analyst",
                   collections: frozenset[str] | None = None) -> RequestContext:
        """A caller confined to one tenant (and, with `collections`, to those collections of it)."""
        return cls(settings=settings, user=user, tenant=tenant, role=role, tenants=frozenset({tenant}),
                   collections=collections)

    def can_read(self, collection: dict) -> bool:
        """May this caller read the collection (a row with at least 'name' and 'tenant')?"""
        if self.tenants is not None and collection["tenant"] not in self.tenants:
            return False
        return self.collections is None or collection["name"] in self.collections

    def may_change(self) -> bool:
        """May this caller change what it may read (collections, documents, gold sets)? Operators and admins."""
        return self.role in WRITERS
