"""Sign-in: argon2 verify, opaque expiring tokens, sign-out, throttling per account and per address, all audited."""
from __future__ import annotations

import pytest

from backend.gateway.identity import SCOPES, Unauthorized
from tests.gateway.helpers import PASSWORD


@pytest.fixture
def ann(gateway):
    gateway.create_user("ann", "acme", "analyst", PASSWORD)
    return gateway


def test_sign_in_gives_a_token_that_resolves_to_the_user(ann, clock):
    signed = ann.sign_in("ann", PASSWORD, address="10.0.0.7")
    assert len(signed.token) >= 43 and signed.expires_at == clock.now.replace(hour=21)  # 12 hours by default
    identity = ann.resolve_session(signed.token)
    assert (identity.user, identity.tenant, identity.role, identity.key_id) == ("ann", "acme", "analyst", None)
    assert identity.scopes == {"read", "ask", "tickets"} and identity.scopes <= set(SCOPES)
    assert signed.identity == identity
    rows = ann.audit_log(action="sign_in")
    assert [(r["action"], r["actor"], r["target"], r["details"]["address"]) for r in rows] == [
        ("sign_in.ok", "ann", "ann", "10.0.0.7")]


def test_wrong_password_and_unknown_user_fail_alike_and_are_audited(ann):
    for name, password in (("ann", "not the password!"), ("nobody", PASSWORD)):
        with pytest.raises(Unauthorized, match="^wrong user name or password$"):
            ann.sign_in(name, password, address="10.0.0.9")
    failed = ann.audit_log(action="sign_in.failed")
    assert {(r["target"], r["details"]["reason"]) for r in failed} == {("ann", "wrong password"), ("nobody", "unknown user")}
    assert {r["actor"] for r in failed} == {"anonymous"}  # a typed name is not proof of who tried


def test_sessions_expire_and_sign_out_ends_them(ann, clock):
    first = ann.sign_in("ann", PASSWORD)
    clock.advance(hours=11, minutes=59)
    assert ann.resolve_session(first.token).user == "ann"
    clock.advance(minutes=2)
    with pytest.raises(Unauthorized, match="session expired"):
        ann.resolve_session(first.token)
    with pytest.raises(Unauthorized, match="unknown or ended session"):  # the expired row is gone
        ann.resolve_session(first.token)
    second = ann.sign_in("ann", PASSWORD)
    assert ann.sign_out(second.token) and not ann.sign_out(second.token)
    with pytest.raises(Unauthorized):
        ann.resolve_session(second.token)
    with pytest.raises(Unauthorized, match="not signed in"):
        ann.resolve_session("")
    assert [r["action"] for r in ann.audit_log(action="sign_out")] == ["sign_out"]


def test_session_length_is_a_setting(make_gateway, clock):
    gw = make_gateway(session_hours=1)
    gw.create_tenant("acme")
    gw.create_user("ann", "acme", "analyst", PASSWORD)
    signed = gw.sign_in("ann", PASSWORD)
    clock.advance(minutes=61)
    with pytest.raises(Unauthorized, match="expired"):
        gw.resolve_session(signed.token)


def test_a_role_change_applies_to_a_live_session_and_disabling_ends_it(ann):
    signed = ann.sign_in("ann", PASSWORD)
    ann.set_role("ann", "operator", actor="admin")
    assert ann.resolve_session(signed.token).role == "operator"
    ann.disable_user("ann", actor="admin")
    with pytest.raises(Unauthorized):
        ann.resolve_session(signed.token)
    with pytest.raises(Unauthorized, match="disabled"):
        ann.sign_in("ann", PASSWORD)
    ann.enable_user("ann", actor="admin")
    assert ann.sign_in("ann", PASSWORD).identity.role == "operator"
    actions = [r["action"] for r in ann.audit_log(actor="admin")]
    assert actions == ["user.enable", "user.disable", "user.role"]


def test_five_failures_lock_the_account_for_the_window_then_it_opens(ann, clock):
    for _ in range(5):
        with pytest.raises(Unauthorized, match="wrong user name or password"):
            ann.sign_in("ann", "guess guess guess")
        clock.advance(minutes=1)
    # Even the right password is refused now, before it is checked, with how long to wait.
    with pytest.raises(Unauthorized, match="too many failed sign-ins for this account; wait 10 minutes"):
        ann.sign_in("ann", PASSWORD)
    assert ann.audit_log(action="sign_in.throttled")[0]["target"] == "ann"
    clock.advance(minutes=10, seconds=1)  # the first failure leaves the 15-minute window
    assert ann.sign_in("ann", PASSWORD).identity.user == "ann"


def test_a_success_clears_the_account_count(ann):
    for _ in range(4):
        with pytest.raises(Unauthorized):
            ann.sign_in("ann", "guess guess guess")
    ann.sign_in("ann", PASSWORD)
    for _ in range(4):
        with pytest.raises(Unauthorized, match="wrong user name"):
            ann.sign_in("ann", "guess guess guess")


def test_one_address_trying_many_accounts_is_throttled(make_gateway):
    gw = make_gateway(sign_in_max_failures_per_address=3)
    gw.create_tenant("acme")
    gw.create_user("ann", "acme", "analyst", PASSWORD)
    for name in ("bob", "carol", "dave"):
        with pytest.raises(Unauthorized, match="wrong user name"):
            gw.sign_in(name, PASSWORD, address="203.0.113.5")
    with pytest.raises(Unauthorized, match="too many failed sign-ins for this address; wait 15 minutes"):
        gw.sign_in("ann", PASSWORD, address="203.0.113.5")
    assert gw.sign_in("ann", PASSWORD, address="198.51.100.1").identity.user == "ann"  # another address is fine


def test_changing_the_password_ends_sessions_and_checks_the_current_one(ann):
    from backend.models import InputError

    signed = ann.sign_in("ann", PASSWORD)
    with pytest.raises(InputError, match="current password"):
        ann.change_password("ann", "another long passphrase", actor="ann", current_password="wrong one")
    ann.change_password("ann", "another long passphrase", actor="ann", current_password=PASSWORD)
    with pytest.raises(Unauthorized):
        ann.resolve_session(signed.token)
    with pytest.raises(Unauthorized):
        ann.sign_in("ann", PASSWORD)
    assert ann.sign_in("ann", "another long passphrase").identity.user == "ann"
    assert ann.audit_log(action="user.password")[0]["details"] == {"sessions_ended": 1}
