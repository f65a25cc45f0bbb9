"""OpenID Connect sign-in: a provider's claims (st.user after st.login) mapped to a Groundwork account, role and tenant."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from backend.gateway.accounts import Accounts
from backend.gateway.identity import ROLES, Forbidden, Unauthorized
from backend.gateway.passwords import generate_password
from backend.gateway.roles import Clock, check_name, utc_now
from backend.gateway.sessions import Sessions, SignIn
from backend.models import InputError
from backend.settings import Settings
from backend.store import accounts as account_store
from backend.store.audit import audit
from backend.store.db import Store

LANE = "gateway"
NO_ROLE = "not allowed: your account has no Groundwork role"


def claim(claims: Mapping[str, Any], name: str) -> Any:
    """The claim's value: a top-level key, or a dotted path into nested claims (Keycloak's realm_access.roles)."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _is_name(value: str) -> bool:
    try:
        check_name(value, "name")
    except InputError:
        return False
    return True


def claim_values(value: Any) -> list[str]:
    """A claim as a list of strings: providers send groups and roles as a list, some as one string."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str) and v]
    return []


@dataclass(frozen=True)
class OidcAccount:
    """Who the claims say the caller is in Groundwork: the decision, before anything is stored."""

    user: str
    tenant: str
    role: str
    exists: bool  # False: to be created (auto-provisioning)


def user_name(claims: Mapping[str, Any], settings: Settings) -> str:
    """The Groundwork user name the configured claim gives, or Forbidden saying what is wrong with it."""
    field = settings.oidc_user_claim
    value = claim(claims, field)
    if not isinstance(value, str) or not value:
        raise Forbidden(f"not allowed: the provider sent no {field!r} claim to name your Groundwork account")
    if field == "email" and claims.get("email_verified") is False:  # an unverified address proves nothing
        raise Forbidden(f"not allowed: the provider has not verified the email address {value!r}")
    if not _is_name(value):
        raise Forbidden(f"not allowed: {field} {value!r} is not a Groundwork user name (1-64 letters, digits, "
                        "'-', '_', '.' or '@')")
    return value


def mapped_role(claims: Mapping[str, Any], settings: Settings, current: str | None) -> str | None:
    """The role the claims give through oidc_role_map (the most powerful of several), else oidc_default_role.
    With no role claim configured, an existing account keeps its role. None: no role at all."""
    if settings.oidc_role_claim:
        found = {settings.oidc_role_map[v] for v in claim_values(claim(claims, settings.oidc_role_claim))
                 if v in settings.oidc_role_map}
        for role in ROLES:  # most powerful first
            if role in found:
                return role
    elif current is not None:
        return current
    return settings.oidc_default_role or None


def claimed_tenant(claims: Mapping[str, Any], settings: Settings) -> str | None:
    """The tenant named by oidc_tenant_claim, when that is configured and the provider sent it."""
    if not settings.oidc_tenant_claim:
        return None
    values = claim_values(claim(claims, settings.oidc_tenant_claim))
    if not values:
        return None
    if not _is_name(values[0]):
        raise Forbidden(f"not allowed: tenant {values[0]!r} from the provider is not a tenant name")
    return values[0]


def decide(claims: Mapping[str, Any], settings: Settings, existing: dict | None) -> OidcAccount:
    """The account, tenant and role for these claims given the stored user row (None: unknown), or Forbidden /
    Unauthorized with the reason. Pure: nothing is read or written here."""
    name = user_name(claims, settings)
    tenant_claim = claimed_tenant(claims, settings)
    if existing is not None:
        if existing["disabled"]:
            raise Unauthorized(f"the account {name!r} is disabled; ask an admin")
        if tenant_claim is not None and tenant_claim != existing["tenant"]:
            raise Forbidden(f"not allowed: the provider puts {name!r} in tenant {tenant_claim!r}, but the account "
                            f"is in {existing['tenant']!r}; ask an admin")
        tenant = existing["tenant"]
    else:
        if not settings.oidc_auto_provision:
            raise Forbidden(f"not allowed: there is no Groundwork account {name!r}; ask an admin to create it")
        tenant = tenant_claim or settings.oidc_tenant or settings.default_tenant
    role = mapped_role(claims, settings, existing["role"] if existing else None)
    if role is None:
        raise Forbidden(NO_ROLE)
    return OidcAccount(name, tenant, role, exists=existing is not None)


class OidcSignIn:
    """Thread-safe like the rest of the gateway. The claims must come from a verified ID token (st.user reads
    them from the cookie Streamlit signed after its own OIDC callback), never from a request a client shaped."""

    def __init__(self, store: Store, settings: Settings, accounts: Accounts, sessions: Sessions,
                 clock: Clock = utc_now):
        self.store = store
        self.settings = settings
        self.accounts = accounts
        self.sessions = sessions
        self.clock = clock

    def sign_in(self, claims: Mapping[str, Any], provider: str = "default") -> SignIn:
        """A Groundwork session for the provider's user, as a password sign-in gives; audited as signin.oidc
        (a refusal as signin.oidc.refused, with its reason)."""
        trail = {"provider": provider, "subject": str(claims.get("sub", "")), "issuer": str(claims.get("iss", ""))}
        try:
            return self._sign_in(claims, provider, trail)
        except (Forbidden, Unauthorized) as exc:
            target = claims.get(self.settings.oidc_user_claim)
            with self.store.transaction(LANE) as cur:
                audit(cur, "signin.oidc.refused", target[:200] if isinstance(target, str) else trail["subject"],
                      trail | {"reason": str(exc)}, "anonymous")
            raise

    def _sign_in(self, claims: Mapping[str, Any], provider: str, trail: dict[str, str]) -> SignIn:
        name = user_name(claims, self.settings)
        with self.store.cursor() as cur:
            existing = account_store.user_row(cur, name)
        account = decide(claims, self.settings, existing)
        actor = f"oidc:{provider}"
        if not account.exists:
            with self.store.cursor() as cur:
                if account_store.tenant_row(cur, account.tenant) is None:
                    raise Forbidden(f"not allowed: tenant {account.tenant!r} does not exist; ask an admin")
            try:  # nobody knows this password: the account signs in through its provider (or an admin resets it)
                self.accounts.create_user(name, account.tenant, account.role, generate_password(), actor)
            except InputError:  # a concurrent first sign-in of the same user created it: use that one
                pass
        elif existing is not None and existing["role"] != account.role:
            self.accounts.set_role(name, account.role, actor)  # the provider's claim is the source of the role
        with self.store.transaction(LANE) as cur:
            row = account_store.user_row(cur, name)
            if row is None or row["disabled"]:
                raise Unauthorized(f"the account {name!r} is not available; ask an admin")
            signed = self.sessions.issue(cur, row, self.clock())
            audit(cur, "signin.oidc", name, trail | {"tenant": row["tenant"], "role": row["role"],
                                                     "provisioned": not account.exists}, name)
        return signed
