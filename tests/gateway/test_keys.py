"""API keys: shown once, found by prefix, checked by hash in constant time, scoped, expiring, revocable, audited."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from backend.gateway.identity import Forbidden, Unauthorized
from backend.models import InputError
from tests.gateway.helpers import PASSWORD


@pytest.fixture
def gw(gateway):
    gateway.create_user("ann", "acme", "analyst", PASSWORD)
    gateway.create_user("olga", "acme", "operator", PASSWORD)
    return gateway


def test_a_key_authenticates_as_its_user_with_its_scopes(gw, clock, store):
    raw, row = gw.create_key("ann", ["read", "ask"], name="notebook", actor="admin")
    assert raw.startswith(row["prefix"] + "_") and row["status"] == "active" and row["last_used_at"] is None
    assert (row["user"], row["tenant"], row["role"], row["scopes"], row["name"]) == (
        "ann", "acme", "analyst", ["ask", "read"], "notebook")
    identity = gw.authenticate_key(raw)
    assert (identity.user, identity.tenant, identity.role, identity.key_id) == ("ann", "acme", "analyst", row["id"])
    assert identity.scopes == {"read", "ask"}
    gw.require_scope(identity, "ask")
    with pytest.raises(Forbidden, match="this API key lacks the scope 'tickets'"):
        gw.require_scope(identity, "tickets")
    assert gw.list_keys("ann")[0]["last_used_at"] == clock.now
    audit = gw.audit_log(action="key.create")[0]
    assert audit["actor"] == "admin" and audit["target"] == row["prefix"] and audit["details"]["scopes"] == ["ask", "read"]
    assert raw not in str(audit)


def test_unknown_malformed_and_tampered_keys_are_refused(gw):
    raw, _ = gw.create_key("ann", ["read"])
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    other_prefix = "gw_00000000_" + raw.split("_", 2)[2]
    for bad in (tampered, other_prefix, "gw_nothex!!_x", "sk-123", raw + "x"):
        with pytest.raises(Unauthorized, match="^invalid API key$"):
            gw.authenticate_key(bad)
    with pytest.raises(Unauthorized, match="an API key is required"):
        gw.authenticate_key(None)
    assert gw.authenticate_key(f"  {raw}\n").user == "ann"  # pasted with whitespace still works


def test_revoked_keys_stop_at_once_and_revocation_is_audited(gw):
    raw, row = gw.create_key("ann", ["read"])
    revoked = gw.revoke_key(row["id"], actor="admin")
    assert revoked["status"] == "revoked" and revoked["revoked_at"] is not None
    with pytest.raises(Unauthorized, match=f"the API key {row['prefix']} was revoked"):
        gw.authenticate_key(raw)
    gw.revoke_key(row["id"], actor="admin")  # again: no change, no second audit row
    rows = gw.audit_log(action="key.revoke")
    assert [(r["actor"], r["target"]) for r in rows] == [("admin", row["prefix"])]
    with pytest.raises(InputError, match="unknown API key id 999"):
        gw.revoke_key(999)


def test_keys_expire(gw, clock):
    raw, row = gw.create_key("ann", ["read"], expires_at=clock.now + timedelta(days=1))
    clock.advance(hours=23)
    assert gw.authenticate_key(raw).user == "ann"
    clock.advance(hours=1)
    with pytest.raises(Unauthorized, match="expired at 2026-05-15T09:00:00 UTC"):
        gw.authenticate_key(raw)
    assert gw.list_keys("ann")[0]["status"] == "expired"
    with pytest.raises(InputError, match="expires_at: .* is not in the future"):
        gw.create_key("ann", ["read"], expires_at=clock.now - timedelta(seconds=1))
    # An aware datetime is converted to UTC: 11:00 at +02:00 is 09:00 UTC.
    aware = datetime(2026, 5, 20, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert gw.create_key("ann", ["read"], expires_at=aware)[1]["expires_at"] == datetime(2026, 5, 20, 9, 0)


def test_scopes_are_validated_against_the_list_and_the_role(gw):
    with pytest.raises(InputError, match="unknown scope 'write'"):
        gw.create_key("ann", ["read", "write"])
    with pytest.raises(InputError, match=r"ingest exceeds the role analyst \(allowed: read, ask, tickets\)"):
        gw.create_key("ann", ["read", "ingest"])
    with pytest.raises(InputError, match="give at least one"):
        gw.create_key("ann", [])
    with pytest.raises(InputError, match="unknown user 'zed'"):
        gw.create_key("zed", ["read"])
    assert gw.create_key("olga", "read, ingest")[1]["scopes"] == ["ingest", "read"]  # as typed on a form
    assert gw.list_keys() and all("secret_sha256" not in k for k in gw.list_keys())


def test_a_key_never_exceeds_its_users_current_role_or_state(gw):
    raw, _ = gw.create_key("olga", ["read", "ingest"])
    gw.set_role("olga", "analyst", actor="admin")  # demoted: the key loses ingest with her
    identity = gw.authenticate_key(raw)
    assert identity.role == "analyst" and identity.scopes == {"read"}
    assert gw.list_keys("olga")[0]["role"] == "analyst"
    gw.disable_user("olga", actor="admin")
    with pytest.raises(Unauthorized, match="disabled account"):
        gw.authenticate_key(raw)
    assert [r["details"] for r in gw.audit_log(action="user.role")] == [{"from": "operator", "to": "analyst"}]


def test_last_used_is_written_at_most_once_a_minute(gw, clock):
    raw, _ = gw.create_key("ann", ["read"])
    first = clock.now
    gw.authenticate_key(raw)
    clock.advance(seconds=30)
    gw.authenticate_key(raw)
    assert gw.list_keys("ann")[0]["last_used_at"] == first
    clock.advance(seconds=31)
    gw.authenticate_key(raw)
    assert gw.list_keys("ann")[0]["last_used_at"] == clock.now
