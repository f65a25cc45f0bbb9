"""Admin: users, tenants, groups and grants, API keys, quotas and usage, retention, the audit log (admin role only).

Every change goes through platform.gateway with the signed-in admin as the actor, so the audit log names them.
Bad input shows the gateway's own message, which names the field.
"""
from datetime import datetime, time, timezone

import pandas as pd
import streamlit as st

from backend.gateway.identity import ROLES, SCOPES
from backend.models import GroundworkError
from components.admin_retention import retention_tab
from components.navigation import require_page
from components.platform import get_platform
from components.quota_usage import quota_card

identity = require_page(__file__)
NEW_KEY = "admin_new_key"  # the full key of the key just created: shown on one run, then gone
FLASH = "admin_flash"

platform = get_platform()
gateway = platform.gateway
actor = identity.user

st.title("Admin")
st.caption("Accounts, tenants, access to collections, API keys, quotas, and who did what. "
           f"Changes are recorded in the audit log as **{actor}**.")
message = st.session_state.pop(FLASH, None)
if message:
    st.success(message, icon=":material/check_circle:")


def perform(action, success: str) -> bool:
    """Run one gateway change; its message (naming the field) on bad input, else a flash and a rerun."""
    try:
        action()
    except GroundworkError as exc:
        st.error(str(exc), icon=":material/error:")
        return False
    st.session_state[FLASH] = success
    st.rerun()
    return True  # not reached: st.rerun() ends the run


tenants = gateway.tenants()
tenant_names = [t["name"] for t in tenants]
users = gateway.users()
user_names = [u["name"] for u in users]

(users_tab, tenants_tab, groups_tab, keys_tab, quotas_tab, retention_tab_, audit_tab) = st.tabs(
    ["Users", "Tenants", "Groups and grants", "API keys", "Quotas and usage", "Retention", "Audit log"])

# --- users ------------------------------------------------------------------------------------------
with users_tab:
    if users:
        st.dataframe(pd.DataFrame([{"user": u["name"], "tenant": u["tenant"], "role": u["role"],
                                    "disabled": u["disabled"], "groups": ", ".join(u.get("groups") or []),
                                    "created": u["created_at"]} for u in users]),
                     hide_index=True, width="stretch", key="admin_users_table")
    with st.form("admin_create_user", clear_on_submit=True):
        st.markdown("**Create a user**")
        c1, c2, c3 = st.columns(3)
        new_name = c1.text_input("User name", key="admin_user_name")
        new_tenant = c2.selectbox("Tenant", tenant_names, key="admin_user_tenant")
        new_role = c3.selectbox("Role", ROLES, index=ROLES.index("analyst"), key="admin_user_role")
        new_password = st.text_input("Password", type="password", key="admin_user_password",
                                     help="Give it to the user over a private channel; they can change it later.")
        if st.form_submit_button("Create user", type="primary", icon=":material/person_add:"):
            perform(lambda: gateway.create_user(new_name.strip(), new_tenant or "", new_role, new_password,
                                                actor=actor), f"Created user {new_name.strip()} ({new_role}).")
    if user_names:
        st.markdown("**Change a user**")
        c1, c2, c3 = st.columns([2, 2, 3], vertical_alignment="bottom")
        target = c1.selectbox("User", user_names, key="admin_target_user")
        row = next(u for u in users if u["name"] == target)
        role = c2.selectbox("Role", ROLES, index=ROLES.index(row["role"]), key=f"admin_role_{target}")
        with c3:
            buttons = st.columns(2)
            if buttons[0].button("Change role", key="admin_set_role", disabled=role == row["role"]):
                perform(lambda: gateway.set_role(target, role, actor=actor), f"{target} is now {role}.")
            if row["disabled"]:
                if buttons[1].button("Enable", key="admin_enable", icon=":material/person_check:"):
                    perform(lambda: gateway.enable_user(target, actor=actor), f"Enabled {target}.")
            elif buttons[1].button("Disable", key="admin_disable", icon=":material/person_off:",
                                   disabled=target == actor, help="Ends their sessions; their keys stop working"):
                perform(lambda: gateway.disable_user(target, actor=actor), f"Disabled {target}; their sessions ended.")

# --- tenants ----------------------------------------------------------------------------------------
with tenants_tab:
    if tenants:
        st.dataframe(pd.DataFrame(tenants), hide_index=True, width="stretch", key="admin_tenants_table")
    with st.form("admin_create_tenant", clear_on_submit=True):
        st.markdown("**Create a tenant**")
        c1, c2 = st.columns([1, 2])
        tenant_name = c1.text_input("Tenant name", key="admin_tenant_name")
        tenant_description = c2.text_input("Description", key="admin_tenant_description")
        if st.form_submit_button("Create tenant", type="primary", icon=":material/domain_add:"):
            perform(lambda: gateway.create_tenant(tenant_name.strip(), tenant_description.strip(), actor=actor),
                    f"Created tenant {tenant_name.strip()}.")

# --- groups, members, grants --------------------------------------------------------------------------
with groups_tab:
    groups = gateway.groups()
    if groups:
        st.dataframe(pd.DataFrame([{"group": g["name"], "tenant": g["tenant"], "members": ", ".join(g["members"]),
                                    "collections": ", ".join(g["collections"])} for g in groups]),
                     hide_index=True, width="stretch", key="admin_groups_table")
    st.caption("Analysts read only the collections granted to one of their groups; a grant never crosses tenants.")
    with st.form("admin_create_group", clear_on_submit=True):
        c1, c2 = st.columns(2)
        group_name = c1.text_input("New group", key="admin_group_name")
        group_tenant = c2.selectbox("Tenant", tenant_names, key="admin_group_tenant")
        if st.form_submit_button("Create group", icon=":material/group_add:"):
            perform(lambda: gateway.create_group(group_name.strip(), group_tenant or "", actor=actor),
                    f"Created group {group_name.strip()}.")
    group_names = [g["name"] for g in groups]
    if group_names:
        c1, c2 = st.columns(2)
        with c1.container(border=True):
            st.markdown("**Members**")
            group = st.selectbox("Group", group_names, key="admin_member_group")
            member = st.selectbox("User", user_names, key="admin_member_user")
            add, remove = st.columns(2)
            if add.button("Add to group", key="admin_member_add"):
                perform(lambda: gateway.add_member(group, member, actor=actor), f"Added {member} to {group}.")
            if remove.button("Remove from group", key="admin_member_remove"):
                perform(lambda: gateway.remove_member(group, member, actor=actor), f"Removed {member} from {group}.")
        with c2.container(border=True):
            st.markdown("**Collection grants**")
            grant_group = st.selectbox("Group", group_names, key="admin_grant_group")
            tenant_of = next(g["tenant"] for g in groups if g["name"] == grant_group)
            collections = [c["name"] for c in platform.corpus.collections() if c["tenant"] == tenant_of]
            grant_collection = st.selectbox("Collection", collections, key="admin_grant_collection",
                                            accept_new_options=True,
                                            help=f"Collections of tenant {tenant_of}; a name not created yet is allowed")
            add, remove = st.columns(2)
            if add.button("Grant", key="admin_grant_add"):
                perform(lambda: gateway.grant(grant_group, grant_collection or "", actor=actor),
                        f"{grant_group} may now read {grant_collection}.")
            if remove.button("Revoke grant", key="admin_grant_revoke"):
                perform(lambda: gateway.revoke_grant(grant_group, grant_collection or "", actor=actor),
                        f"{grant_group} may no longer read {grant_collection}.")

# --- API keys -----------------------------------------------------------------------------------------
with keys_tab:
    created = st.session_state.pop(NEW_KEY, None)
    if created:
        st.warning("Copy this key now: it is shown only once. Groundwork stores only its hash; from now on it is "
                   "known by its prefix.", icon=":material/key:")
        st.code(created, language=None)
    keys = gateway.list_keys()
    if keys:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        st.dataframe(pd.DataFrame([{
            "id": k["id"], "prefix": k["prefix"], "user": k["user"], "tenant": k["tenant"], "role": k["role"],
            "scopes": ", ".join(k["scopes"]), "name": k["name"], "created": k["created_at"],
            "expires": k["expires_at"], "last used": k["last_used_at"],
            "state": "revoked" if k["revoked_at"] else ("expired" if k["expires_at"] and k["expires_at"] <= now
                                                        else "active"),
        } for k in keys]), hide_index=True, width="stretch", key="admin_keys_table")
    with st.form("admin_create_key"):
        st.markdown("**Create an API key**")
        c1, c2 = st.columns(2)
        key_user = c1.selectbox("For user", user_names, key="admin_key_user",
                                help="The key acts as this user: their tenant and role, never more")
        key_name = c2.text_input("Label", key="admin_key_name", placeholder="e.g. reporting script")
        key_scopes = st.multiselect("Scopes", SCOPES, default=["read"], key="admin_key_scopes")
        c1, c2 = st.columns(2)
        expires = c1.date_input("Expires on (optional)", value=None, key="admin_key_expires", format="YYYY-MM-DD")
        if st.form_submit_button("Create key", type="primary", icon=":material/key:"):
            def _create() -> None:
                expires_at = datetime.combine(expires, time(23, 59, 59)) if expires else None
                raw, _ = gateway.create_key(key_user or "", key_scopes, expires_at, key_name.strip(), actor=actor)
                st.session_state[NEW_KEY] = raw

            perform(_create, f"Created a key for {key_user}.")
    live = [k for k in keys if not k["revoked_at"]]
    if live:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        revoke = c1.selectbox("Key", [k["id"] for k in live], key="admin_revoke_key",
                              format_func=lambda i: next(f"{k['prefix']} · {k['user']} · {k['name'] or 'no label'}"
                                                         for k in live if k["id"] == i))
        if c2.button("Revoke", key="admin_revoke", icon=":material/block:"):
            perform(lambda: gateway.revoke_key(int(revoke), actor=actor), f"Revoked key {revoke}.")

# --- quotas and usage ---------------------------------------------------------------------------------
with quotas_tab:
    st.caption("A monthly token and cost quota per tenant, checked before generation (empty: no limit).")
    for name in tenant_names:
        quota_card(gateway.usage(name))
    with st.form("admin_quota"):
        st.markdown("**Set a quota**")
        c1, c2, c3 = st.columns(3)
        quota_tenant = c1.selectbox("Tenant", tenant_names, key="admin_quota_tenant")
        tokens = c2.number_input("Monthly tokens", min_value=0, value=None, step=100_000, key="admin_quota_tokens")
        cost = c3.number_input("Monthly cost (USD)", min_value=0.0, value=None, step=10.0, key="admin_quota_cost")
        if st.form_submit_button("Save quota", type="primary"):
            perform(lambda: gateway.set_quota(quota_tenant or "", None if tokens is None else int(tokens),
                                              None if cost is None else float(cost), actor=actor),
                    f"Saved the quota of {quota_tenant}.")
    history = gateway.usage_history()
    if history:
        st.dataframe(pd.DataFrame(history), hide_index=True, width="stretch", key="admin_usage_table")

with retention_tab_:
    retention_tab(platform, gateway.context_for(identity), perform)

# --- audit log ----------------------------------------------------------------------------------------
with audit_tab:
    c1, c2, c3 = st.columns([2, 2, 1])
    action_filter = c1.text_input("Action starts with", key="admin_audit_action", placeholder="e.g. key, sign_in")
    actor_filter = c2.selectbox("Actor", ["anyone", *user_names, "system", "anonymous"], key="admin_audit_actor")
    limit = c3.selectbox("Rows", [50, 200, 1000], index=1, key="admin_audit_limit")
    rows = gateway.audit_log(limit=limit, action=action_filter.strip() or None,
                             actor=None if actor_filter == "anyone" else actor_filter)
    if rows:
        st.dataframe(pd.DataFrame([{**r, "details": str(r.get("details") or "")} for r in rows]),
                     hide_index=True, width="stretch", key="admin_audit_table")
    else:
        st.info("No audit rows match these filters.")
