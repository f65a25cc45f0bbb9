"""Tenants' monthly usage against their quotas, drawn one way for the Admin and the Operations pages."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from backend.context import RequestContext
from components.obs_charts import usage_history_figure


def _tokens(value) -> str:
    return f"{int(value):,}"


def _cost(value) -> str:
    return f"${value:,.2f}"


def quota_card(used: dict) -> None:
    """One tenant's month (a row of `gateway.usage`): a progress bar per limit, or what was used when unlimited."""
    with st.container(border=True):
        n = used['requests']
        st.markdown(f"**{used['tenant']}** · {used['month']} · {n:,} request{'' if n == 1 else 's'}")
        kinds = ((used["tokens"], used["monthly_tokens"], "tokens", _tokens),
                 (used["cost_usd"], used["monthly_cost_usd"], "cost", _cost))
        if all(limit is None for _, limit, _, _ in kinds):
            st.caption(" · ".join(f"{label}: {shown(value)}" for value, _, label, shown in kinds) + " · no quota set")
            return
        for column, (value, limit, label, shown) in zip(st.columns(2), kinds):
            if limit is None:
                column.caption(f"{label}: {shown(value)} (no limit)")
            else:
                # a zero quota is used up at once: a full bar, not a division by zero
                column.progress(min(1.0, value / limit) if limit else 1.0, text=f"{label}: {shown(value)} of {shown(limit)}")


def usage_section(gateway, ctx: RequestContext, key: str) -> None:
    """This month's usage against the quota of every tenant the caller may see, and their usage month by month."""
    rows = gateway.quotas.usage_in_scope(ctx)
    with st.expander("Usage and quota this month", icon=":material/data_usage:", expanded=len(rows) <= 3):
        st.caption("Tokens and cost the Chat page and the API charged to each tenant, against its monthly quota "
                   "(checked before every answer; an admin sets it on the Admin page).")
        for used in rows:
            quota_card(used)
        history = pd.DataFrame(gateway.quotas.history_in_scope(ctx),
                               columns=["tenant", "month", "tokens", "cost_usd", "requests"])
        if not history.empty:
            st.markdown("**Usage by month**")
            chart, table = st.tabs(["Chart", "Table"])  # not an expander: expanders do not nest
            chart.plotly_chart(usage_history_figure(history), key=f"{key}_usage_chart")
            table.dataframe(history, hide_index=True, key=f"{key}_usage_table")
