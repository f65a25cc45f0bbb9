"""The Operations page's ticket desk: hand-overs from Chat and the API, open ones first, each closed or reopened in place."""
from __future__ import annotations

import streamlit as st

from backend.context import RequestContext
from backend.models import GroundworkError
from backend.tools.tickets import list_tickets, set_ticket_status
from components.citation_card import page_link
from components.safe_markdown import safe_markdown

SHOWN = 200  # the newest open ones come first, so a long closed history never pushes an open ticket off the list
WIDTHS = (1.1, 4, 1.6, 1.1, 2.2, 1.8, 1.3)
HEADINGS = ("Status", "Title", "Created by", "Priority", "Conversation", "Created", "")
PRIORITY_ICONS = {"high": ":material/priority_high:", "normal": "", "low": ":material/low_priority:"}


def _change(platform, ctx: RequestContext, ticket_id: int, status: str, key: str) -> None:
    """The button's callback: runs before the rerun draws the list, so the row shows its new status at once."""
    try:
        set_ticket_status(platform, ctx, ticket_id, status)
    except GroundworkError as exc:
        st.session_state[f"{key}_notice"] = ("error", str(exc))
    else:
        done = "closed" if status == "closed" else "reopened"
        st.session_state[f"{key}_notice"] = ("success", f"Ticket #{ticket_id} {done}.")


def _conversation(ticket: dict, ctx: RequestContext, column) -> None:
    conversation_id = ticket["conversation_id"]
    with column:
        if not conversation_id:
            st.caption("–")
        elif ticket["created_by"] == ctx.user:  # Chat opens only the caller's own conversations
            page_link("pages/chat.py", "Open in Chat", {"conversation": conversation_id}, ":material/forum:")
        else:
            st.caption(f"`{conversation_id}`", help=f"{ticket['created_by']}'s conversation: only they can open it "
                                                    "in Chat. The ticket's description says what they need.")


def _row(platform, ctx: RequestContext, ticket: dict, key: str) -> None:
    columns = st.columns(WIDTHS, vertical_alignment="center")
    is_open = ticket["status"] == "open"
    columns[0].markdown(":green-badge[open]" if is_open else ":gray-badge[closed]")
    with columns[1]:
        st.markdown(f"**#{ticket['id']}** {safe_markdown(ticket['title'])}", help=safe_markdown(ticket["body"]))
    columns[2].markdown(safe_markdown(ticket["created_by"]))
    columns[3].markdown(f"{PRIORITY_ICONS.get(ticket['priority'], '')} {ticket['priority']}".strip())
    _conversation(ticket, ctx, columns[4])
    created = f"{ticket['created_at']:%Y-%m-%d %H:%M} UTC"
    if not is_open and ticket["closed_by"]:
        columns[5].markdown(created, help=f"closed by {ticket['closed_by']} at {ticket['closed_at']:%Y-%m-%d %H:%M} UTC")
    else:
        columns[5].markdown(created)
    columns[6].button("Close" if is_open else "Reopen", key=f"{key}_{ticket['id']}", type="secondary",
                      icon=":material/check_circle:" if is_open else ":material/undo:",
                      on_click=_change, args=(platform, ctx, ticket["id"], "closed" if is_open else "open", key))


def tickets_section(platform, ctx: RequestContext, key: str = "ops_tickets") -> None:
    """The tickets of the caller's tenants (operators and admins; every tenant for an admin), open ones first."""
    tickets = list_tickets(platform, ctx, limit=SHOWN, open_first=True)
    open_count = sum(ticket["status"] == "open" for ticket in tickets)
    with st.expander(f"Tickets: {open_count} open", icon=":material/support_agent:", expanded=open_count > 0):
        st.caption("Hand-overs to a person that the create_ticket tool opened, once the user approved it in Chat or "
                   "with an API key holding the 'tickets' scope. Close one when it is dealt with; every close and "
                   "reopen is in the audit log.")
        notice = st.session_state.pop(f"{key}_notice", None)
        if notice:
            (st.error if notice[0] == "error" else st.success)(notice[1])
        if not tickets:
            st.info("No tickets yet: Chat proposes one when a user asks to hand a question over to a person.",
                    icon=":material/inbox:")
            return
        for column, heading in zip(st.columns(WIDTHS), HEADINGS):
            column.markdown(f"**{heading}**" if heading else "")
        for ticket in tickets:
            _row(platform, ctx, ticket, key)
        if len(tickets) == SHOWN:
            st.caption(f"The first {SHOWN} tickets: open ones first, newest first in each group (GET /api/v1/tickets "
                       "lists them by status).")
