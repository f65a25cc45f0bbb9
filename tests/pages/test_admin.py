"""The Admin page (AppTest): users, a key shown once then revoked, groups and grants, quotas, the audit log."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import run
from tests.pages.signin import ensure_user, signed_in

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "admin.py")


def _button(app: AppTest, label: str):
    [button] = [b for b in app.button if b.label == label]
    return button


def table_with(app: AppTest, column: str):
    """The dataframe on the page that has this column."""
    [table] = [d.value for d in app.dataframe if column in d.value.columns]
    return table


def press(app: AppTest, button) -> AppTest:
    button.click()
    return run(app)


def _admin(platform) -> AppTest:
    return run(signed_in(AppTest.from_file(PAGE, default_timeout=120), "admin", user="root"))


def test_admin_creates_a_user_and_a_key_shown_once_then_revokes_it(platform):
    app = _admin(platform)
    app.text_input(key="admin_user_name").set_value("bea")
    app.selectbox(key="admin_user_role").set_value("analyst")
    app.text_input(key="admin_user_password").set_value("a long enough password 42")
    press(app, _button(app, "Create user"))
    assert any("Created user bea (analyst)" in s.value for s in app.success)
    bea = platform.gateway.user("bea")
    assert bea["role"] == "analyst" and bea["tenant"] == platform.settings.default_tenant

    app.selectbox(key="admin_key_user").set_value("bea")
    app.text_input(key="admin_key_name").set_value("reporting")
    app.multiselect(key="admin_key_scopes").set_value(["read", "ask"])
    press(app, _button(app, "Create key"))
    [shown] = [c.value for c in app.code]
    assert shown.startswith("gw_") and any("shown only once" in w.value for w in app.warning)
    assert platform.gateway.authenticate_key(shown).user == "bea"
    [key] = platform.gateway.list_keys(user="bea")
    assert key["prefix"] in shown and shown not in str(key)

    run(app)  # any later run: the full key is gone, only its prefix is listed
    assert not app.code
    table = table_with(app, "prefix")
    assert list(table["prefix"]) == [key["prefix"]] and shown not in table.to_string()

    app.selectbox(key="admin_revoke_key").set_value(key["id"])
    press(app, _button(app, "Revoke"))
    assert platform.gateway.list_keys(user="bea")[0]["revoked_at"] is not None

    app.text_input(key="admin_audit_action").set_value("key")
    app.selectbox(key="admin_audit_actor").set_value("root")
    run(app)
    audit = table_with(app, "action")
    assert list(audit["action"]) == ["key.revoke", "key.create"] and set(audit["actor"]) == {"root"}
    app.text_input(key="admin_audit_action").set_value("user.create")
    run(app)
    assert "bea" in set(table_with(app, "action")["target"])


def test_bad_input_shows_the_gateways_message_naming_the_field(platform):
    app = _admin(platform)
    app.text_input(key="admin_user_name").set_value("no spaces allowed")
    app.text_input(key="admin_user_password").set_value("a long enough password 42")
    press(app, _button(app, "Create user"))
    assert any(e.value.startswith("user 'no spaces allowed'") for e in app.error)

    app.selectbox(key="admin_key_user").set_value("root")
    app.multiselect(key="admin_key_scopes").set_value([])
    press(app, _button(app, "Create key"))
    assert any(e.value.startswith("scopes:") for e in app.error) and not app.code


def test_roles_groups_grants_and_quotas(platform):
    gateway = platform.gateway
    ensure_user(platform, "cam", "analyst")
    platform.corpus.create_collection("policies")
    app = _admin(platform)
    app.selectbox(key="admin_target_user").set_value("cam")
    run(app)
    app.selectbox(key="admin_role_cam").set_value("operator")
    run(app)
    press(app, _button(app, "Change role"))
    assert gateway.user("cam")["role"] == "operator"
    press(app, app.button(key="admin_disable"))
    assert gateway.user("cam")["disabled"]
    press(app, app.button(key="admin_enable"))
    assert not gateway.user("cam")["disabled"]

    app.text_input(key="admin_group_name").set_value("readers")
    press(app, _button(app, "Create group"))
    app.selectbox(key="admin_member_group").set_value("readers")
    app.selectbox(key="admin_member_user").set_value("cam")
    press(app, app.button(key="admin_member_add"))
    app.selectbox(key="admin_grant_group").set_value("readers")
    app.selectbox(key="admin_grant_collection").set_value("policies")
    press(app, app.button(key="admin_grant_add"))
    [readers] = [g for g in gateway.groups() if g["name"] == "readers"]
    assert readers["members"] == ["cam"] and readers["collections"] == ["policies"]

    app.number_input(key="admin_quota_tokens").set_value(1000)
    app.number_input(key="admin_quota_cost").set_value(5.0)
    press(app, _button(app, "Save quota"))
    used = gateway.usage(platform.settings.default_tenant)
    assert used["monthly_tokens"] == 1000 and used["monthly_cost_usd"] == 5.0
    assert any("tokens: 0 of 1,000" in str(p.proto.text) for p in app.get("progress"))
    actions = {r["action"] for r in gateway.audit_log(actor="root")}
    assert {"user.role", "user.disable", "user.enable", "group.create", "group.member_add", "grant.add",
            "quota.set"} <= actions
