"""Accounts: tenants, users, roles, groups; every change audited with who made it; bad input named clearly."""
from __future__ import annotations

import pytest

from backend.gateway.identity import Forbidden, Identity
from backend.models import InputError
from tests.gateway.helpers import PASSWORD


def test_users_are_created_in_a_known_tenant_with_a_known_role(gateway):
    row = gateway.create_user("ann", "acme", "analyst", PASSWORD, actor="root")
    assert (row["name"], row["tenant"], row["role"], row["disabled"]) == ("ann", "acme", "analyst", False)
    with pytest.raises(InputError, match="user 'ann' already exists"):
        gateway.create_user("ann", "acme", "analyst", PASSWORD)
    with pytest.raises(InputError, match=r"tenant 'initech' does not exist \(tenants: acme, globex\)"):
        gateway.create_user("bob", "initech", "analyst", PASSWORD)
    with pytest.raises(InputError, match=r"role 'owner' is not a role \(roles: admin, operator, analyst, stakeholder\)"):
        gateway.create_user("bob", "acme", "owner", PASSWORD)
    with pytest.raises(InputError, match="user 'bob smith'"):
        gateway.create_user("bob smith", "acme", "analyst", PASSWORD)
    with pytest.raises(InputError, match="password: use at least 12"):
        gateway.create_user("bob", "acme", "analyst", "short")
    with pytest.raises(InputError, match="tenant 'acme' already exists"):
        gateway.create_tenant("acme")
    assert [u["name"] for u in gateway.users("acme")] == ["ann"] and gateway.users("globex") == []
    assert {t["name"]: t["users"] for t in gateway.tenants()} == {"acme": 1, "globex": 0}
    created = gateway.audit_log(action="user.create")[0]
    assert (created["actor"], created["target"], created["details"]) == ("root", "ann", {"tenant": "acme", "role": "analyst"})


def test_role_changes_are_audited_and_a_no_op_is_not(gateway):
    gateway.create_user("ann", "acme", "analyst", PASSWORD)
    gateway.set_role("ann", "operator", actor="root")
    gateway.set_role("ann", "operator", actor="root")
    rows = gateway.audit_log(action="user.role")
    assert [(r["actor"], r["target"], r["details"]) for r in rows] == [("root", "ann", {"from": "analyst", "to": "operator"})]
    with pytest.raises(InputError, match="unknown user 'zed'"):
        gateway.set_role("zed", "analyst")


def test_groups_list_their_members_and_grants(gateway):
    gateway.create_user("ann", "acme", "analyst", PASSWORD)
    gateway.create_group("support", "acme", actor="root")
    assert gateway.add_member("support", "ann") and not gateway.add_member("support", "ann")
    gateway.grant("support", "manuals")
    assert [(g["name"], g["tenant"], g["members"], g["collections"]) for g in gateway.groups("acme")] == [
        ("support", "acme", ["ann"], ["manuals"])]
    assert gateway.users()[0]["groups"] == ["support"]
    with pytest.raises(InputError, match="group 'support' already exists"):
        gateway.create_group("support", "globex")
    with pytest.raises(InputError, match="unknown group 'nope'"):
        gateway.grant("nope", "manuals")
    with pytest.raises(InputError, match="collection: a collection name is required"):
        gateway.grant("support", "")
    assert [r["action"] for r in gateway.audit_log(action="group")] == ["group.member_add", "group.create"]


def test_the_doors_can_append_their_own_audit_rows(gateway):
    gateway.audit("ann", "export.chunks", "acme-docs", {"rows": 12})
    row = gateway.audit_log(limit=1)[0]
    assert (row["actor"], row["action"], row["target"], row["details"]) == ("ann", "export.chunks", "acme-docs", {"rows": 12})
    assert gateway.audit_log(target="acme-docs")[0]["action"] == "export.chunks"


def test_role_and_scope_checks_for_the_doors(gateway):
    admin = Identity(user="root", tenant="acme", role="admin", scopes=frozenset({"read", "admin"}))
    viewer = Identity(user="sam", tenant="acme", role="stakeholder", scopes=frozenset({"read"}))
    gateway.require_role(admin, "operator")
    gateway.require_scope(viewer, "read")
    with pytest.raises(Forbidden, match="the role stakeholder may not do this"):
        gateway.require_role(viewer, "operator")
    with pytest.raises(Forbidden, match="the role stakeholder lacks the scope 'ask'"):
        gateway.require_scope(viewer, "ask")
