"""OpenID Connect sign-in: claims -> Groundwork account, role and tenant (settings decide), audited, and a session
that works like a password sign-in's."""
from __future__ import annotations

import pytest

from backend.gateway.identity import Forbidden, Unauthorized
from backend.gateway.oidc import NO_ROLE, claim, claim_values, decide
from backend.settings import Settings
from tests.gateway.helpers import PASSWORD

ROLE_MAP = {"gw-admins": "admin", "gw-ops": "operator", "gw-analysts": "analyst", "finance": "stakeholder"}


def claims(email="ann@acme.example", groups=("gw-analysts",), **more):
    return {"sub": "0f3a", "iss": "https://idp.example", "email": email, "email_verified": True,
            "groups": list(groups), "provider": "default", "is_logged_in": True, **more}


@pytest.fixture
def oidc(make_gateway):
    """A gateway whose OIDC users land in tenant acme, roles from the `groups` claim."""
    def make(**overrides):
        gw = make_gateway(**{"oidc_role_map": ROLE_MAP, "oidc_tenant": "acme", **overrides})
        gw.create_tenant("acme")
        gw.create_tenant("globex")
        return gw
    return make


# --- reading claims ------------------------------------------------------------------------------
def test_claims_are_read_by_name_or_dotted_path():
    nested = {"realm_access": {"roles": ["gw-ops"]}, "preferred_username": "ann"}
    assert claim(nested, "realm_access.roles") == ["gw-ops"] and claim(nested, "preferred_username") == "ann"
    assert claim(nested, "realm_access.groups") is None and claim(nested, "missing") is None
    assert claim_values("gw-ops") == ["gw-ops"] and claim_values(["a", 3, "", "b"]) == ["a", "b"]
    assert claim_values(None) == [] and claim_values({"a": 1}) == []


# --- the decision (pure) -------------------------------------------------------------------------
def settings_with(**overrides) -> Settings:
    return Settings(**{"oidc_role_map": ROLE_MAP, "oidc_tenant": "acme", "oidc_auto_provision": True, **overrides})


def test_the_most_powerful_mapped_group_wins():
    account = decide(claims(groups=["finance", "gw-ops", "gw-analysts", "unrelated"]), settings_with(), None)
    assert (account.user, account.tenant, account.role, account.exists) == ("ann@acme.example", "acme", "operator", False)


def test_no_mapped_group_and_no_default_role_is_not_allowed():
    with pytest.raises(Forbidden, match=f"^{NO_ROLE}$"):
        decide(claims(groups=["unrelated"]), settings_with(), None)
    with pytest.raises(Forbidden, match=f"^{NO_ROLE}$"):  # the provider's claim rules an existing account too
        decide(claims(groups=[]), settings_with(), {"role": "admin", "tenant": "acme", "disabled": False})


def test_the_default_role_applies_when_nothing_maps():
    assert decide(claims(groups=["unrelated"]), settings_with(oidc_default_role="stakeholder"), None).role == "stakeholder"


def test_without_a_role_claim_an_existing_account_keeps_its_role():
    existing = {"role": "operator", "tenant": "globex", "disabled": False}
    account = decide(claims(groups=["gw-admins"]), settings_with(oidc_role_claim=""), existing)
    assert (account.role, account.tenant, account.exists) == ("operator", "globex", True)
    with pytest.raises(Forbidden, match=NO_ROLE):
        decide(claims(), settings_with(oidc_role_claim=""), None)


def test_the_user_name_claim_is_a_setting_and_must_be_a_valid_name():
    settings = settings_with(oidc_user_claim="preferred_username")
    assert decide(claims(preferred_username="ann.s"), settings, None).user == "ann.s"
    with pytest.raises(Forbidden, match="no 'preferred_username' claim"):
        decide(claims(), settings, None)
    with pytest.raises(Forbidden, match="is not a Groundwork user name"):
        decide(claims(preferred_username="ann smith"), settings, None)


def test_an_unverified_email_names_nobody():
    with pytest.raises(Forbidden, match="has not verified the email address"):
        decide(claims(email_verified=False), settings_with(), None)


def test_the_tenant_comes_from_a_claim_when_configured():
    settings = settings_with(oidc_tenant_claim="org")
    assert decide(claims(org="globex"), settings, None).tenant == "globex"
    assert decide(claims(), settings, None).tenant == "acme"  # claim absent: oidc_tenant
    assert decide(claims(), settings_with(oidc_tenant=""), None).tenant == "default"  # then default_tenant
    with pytest.raises(Forbidden, match="tenant 'acme'.*account is in 'globex'"):
        decide(claims(org="acme"), settings, {"role": "analyst", "tenant": "globex", "disabled": False})


def test_an_unknown_user_is_refused_without_auto_provisioning():
    with pytest.raises(Forbidden, match="no Groundwork account 'ann@acme.example'; ask an admin"):
        decide(claims(), settings_with(oidc_auto_provision=False), None)


def test_a_disabled_account_is_refused():
    with pytest.raises(Unauthorized, match="disabled"):
        decide(claims(), settings_with(), {"role": "analyst", "tenant": "acme", "disabled": True})


def test_role_settings_name_roles():
    with pytest.raises(ValueError, match="oidc_role_map: 'boss' is not a role"):
        Settings(oidc_role_map={"x": "boss"})
    with pytest.raises(ValueError, match="oidc_default_role: 'root' is not a role"):
        Settings(oidc_default_role="root")


# --- the sign-in, against the real gateway and DuckDB file ---------------------------------------
def test_an_existing_account_signs_in_with_the_mapped_role_and_a_normal_session(oidc):
    gw = oidc()
    gw.create_user("ann@acme.example", "acme", "stakeholder", PASSWORD)
    signed = gw.sign_in_oidc(claims(groups=["gw-analysts"]), "default")
    identity = gw.resolve_session(signed.token)
    assert (identity.user, identity.tenant, identity.role) == ("ann@acme.example", "acme", "analyst")
    assert gw.user("ann@acme.example")["role"] == "analyst"  # the provider's claim is the source of the role
    [row] = gw.audit_log(action="signin.oidc")
    assert (row["action"], row["actor"], row["target"]) == ("signin.oidc", "ann@acme.example", "ann@acme.example")
    assert row["details"] == {"provider": "default", "subject": "0f3a", "issuer": "https://idp.example",
                              "tenant": "acme", "role": "analyst", "provisioned": False}
    assert gw.audit_log(action="user.role")[0]["actor"] == "oidc:default"
    # the session is the same kind as a password sign-in's: grants, cookie hand-off and sign-out all apply
    assert gw.context_for(identity).collections == frozenset()  # an analyst without grants reads nothing
    assert gw.redeem_session_code(gw.issue_session_code(signed.token)).token == signed.token
    assert gw.sign_out(signed.token)


def test_auto_provisioning_creates_the_account_once(oidc):
    gw = oidc(oidc_auto_provision=True)
    first = gw.sign_in_oidc(claims(groups=["gw-ops"]), "okta")
    assert first.identity.role == "operator" and gw.user("ann@acme.example")["tenant"] == "acme"
    second = gw.sign_in_oidc(claims(groups=["gw-ops"]), "okta")
    assert second.token != first.token and len(gw.users("acme")) == 1
    assert [r["details"]["provisioned"] for r in gw.audit_log(action="signin.oidc")] == [False, True]
    assert gw.audit_log(action="user.create")[0]["actor"] == "oidc:okta"


def test_auto_provisioning_needs_an_existing_tenant(oidc):
    gw = oidc(oidc_auto_provision=True, oidc_tenant_claim="org")
    with pytest.raises(Forbidden, match="tenant 'initech' does not exist"):
        gw.sign_in_oidc(claims(org="initech"), "default")
    assert gw.users() == []


def test_refusals_are_audited_with_the_reason_and_create_nothing(oidc):
    gw = oidc(oidc_auto_provision=True)
    with pytest.raises(Forbidden, match=NO_ROLE):
        gw.sign_in_oidc(claims(groups=["unrelated"]), "default")
    assert gw.users() == [] and gw.store.scalar("SELECT count(*) FROM sessions") == 0
    [row] = gw.audit_log(action="signin.oidc.refused")
    assert (row["actor"], row["target"], row["details"]["reason"]) == ("anonymous", "ann@acme.example", NO_ROLE)


def test_a_disabled_account_cannot_sign_in_through_the_provider(oidc):
    gw = oidc()
    gw.create_user("ann@acme.example", "acme", "analyst", PASSWORD)
    gw.disable_user("ann@acme.example", actor="admin")
    with pytest.raises(Unauthorized, match="disabled"):
        gw.sign_in_oidc(claims(), "default")
