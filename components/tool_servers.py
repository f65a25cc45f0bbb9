"""The Operations page's external tool servers: each one's state, tools and last error, and a retry for one that failed."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from backend.context import RequestContext
from backend.models import GroundworkError
from backend.tools.external_status import retry_server, server_views

STATES = {"connected": "Connected", "failed": "Failed", "not_configured": "Not configured"}


def _retry(platform, ctx: RequestContext, name: str, key: str) -> None:
    """The button's callback: runs before the rerun draws the table, so the row shows the new state at once."""
    try:
        view = retry_server(platform, ctx, name)
    except GroundworkError as exc:
        st.session_state[f"{key}_notice"] = ("error", str(exc))
        return
    if view.state == "connected":
        st.session_state[f"{key}_notice"] = ("success", f"{name} is connected: {len(view.tools)} tools available.")
    else:
        st.session_state[f"{key}_notice"] = ("error", f"{name} is still unavailable: {view.error}")


def tool_servers_section(platform, ctx: RequestContext, key: str = "ops_tool_servers") -> None:
    """Operators and admins: the external tool servers Groundwork was configured with, and a retry per failed one."""
    views = server_views(platform.tools.registry, ctx)
    if not views:
        return  # none configured: nothing to watch, and no section to clutter the page
    failed = [view for view in views if view.state != "connected"]
    label = f"External tool servers: {len(views) - len(failed)} of {len(views)} connected"
    with st.expander(label, icon=":material/hub:", expanded=bool(failed)):
        st.caption("Servers whose allowlisted tools Chat, the API and MCP clients may call. A server that was down "
                   "when Groundwork started can be retried here; its tools are then offered to every session "
                   "without a restart.")
        notice = st.session_state.pop(f"{key}_notice", None)
        if notice:
            (st.error if notice[0] == "error" else st.success)(notice[1])
        table = pd.DataFrame([{
            "Server": view.name, "Address": view.url, "State": STATES.get(view.state, view.state),
            "Tools": len(view.tools), "Tool names": ", ".join(view.tools), "Last error": view.error,
            "Last checked (UTC)": view.checked_at,
        } for view in views])
        st.dataframe(table, hide_index=True, column_config={
            "Last checked (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        })
        for view in failed:
            st.button(f"Retry {view.name}", key=f"{key}_{view.name}", icon=":material/refresh:",
                      help="List this server's tools again now.", on_click=_retry,
                      args=(platform, ctx, view.name, key))
