"""An answer's tool calls: each one in its details, and the Approve / Dismiss step of a proposed write such as a ticket."""
from __future__ import annotations

import json

import streamlit as st

from backend.agent.approval import DISMISSED, ToolApprovals
from backend.models import GroundworkError
from backend.tools.spec import NEEDS_APPROVAL, OK
from components.auth import request_context
from components.platform import get_platform

_OUTCOME_ICONS = {OK: ":material/check_circle:", NEEDS_APPROVAL: ":material/pending:", DISMISSED: ":material/block:"}
_DECISIONS = "tool_decisions"  # session state: what the last click on a proposal said, by its key


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _arguments(call: dict) -> str:
    return json.dumps(call.get("arguments") or {}, indent=2, ensure_ascii=False, default=str)


def tool_call_details(calls: list[dict]) -> None:
    """Every call of one answer, in its details: tool, arguments, outcome, result (or why it did not run), time."""
    if not calls:
        return
    st.markdown(f"**Tool calls** ({len(calls)})")
    for call in calls:
        outcome = call.get("outcome", "")
        icon = _OUTCOME_ICONS.get(outcome, ":material/error:")
        st.markdown(f"{icon} `{call.get('tool')}` · {outcome} · {_ms(float(call.get('duration_ms') or 0.0))}")
        st.code(_arguments(call), language="json")
        if call.get("result"):
            st.code(call["result"], language="text")
        elif call.get("message"):
            st.caption(call["message"])


def _key(answer: dict, index: int) -> str:
    return f"{answer.get('message_id')}-{index}"


def _decide(answer: dict, index: int, identity, approve: bool) -> None:
    """The button's callback: the backend checks it is this user's own pending proposal, then runs or drops it."""
    approvals = ToolApprovals(get_platform())
    decide = approvals.approve if approve else approvals.dismiss
    try:
        record = decide(int(answer["message_id"]), index, identity, request_context(identity))
    except GroundworkError as exc:  # someone else's, decided already in another tab, or no longer readable
        st.session_state.setdefault(_DECISIONS, {})[_key(answer, index)] = {"error": str(exc)}
        return
    if record.get("outcome") in (OK, DISMISSED):
        answer["tool_calls"][index] = record  # the turn in session state: redrawn decided, as the store now has it
    st.session_state.setdefault(_DECISIONS, {})[_key(answer, index)] = record


def _decided(call: dict) -> None:
    if call.get("outcome") == DISMISSED:
        st.caption(f":material/block: Not run: {call.get('message') or 'dismissed'}.")
    elif call.get("tool") == "create_ticket" and (call.get("data") or {}).get("ticket_id") is not None:
        st.success(f"Ticket #{call['data']['ticket_id']} opened", icon=":material/confirmation_number:")
    else:
        st.success(call.get("result") or f"{call.get('tool')} ran", icon=":material/check_circle:")


def tool_proposals(answer: dict, identity) -> None:
    """Each write the answer proposed, with its arguments and an Approve and a Dismiss button; once decided, what
    happened ("Ticket #N opened"). Shown under the answer, not in its details: it waits for the user."""
    decisions = st.session_state.get(_DECISIONS, {})
    for index, call in enumerate(answer.get("tool_calls") or []):
        decision = decisions.get(_key(answer, index))
        if call.get("writes") and call.get("outcome") in (OK, DISMISSED):
            _decided(call)
            continue
        if call.get("outcome") != NEEDS_APPROVAL:
            continue
        with st.container(border=True):
            st.markdown(f":material/pending: **{call.get('tool')}** changes data, so it runs only once you approve it:")
            st.code(_arguments(call), language="json")
            if not answer.get("message_id"):
                st.caption("This answer was not saved to a conversation, so its proposal cannot be approved here.")
                continue
            approve, dismiss, _ = st.columns([1, 1, 4])
            key = _key(answer, index)
            approve.button("Approve", key=f"approve-{key}", type="secondary", icon=":material/check:",
                           on_click=_decide, args=(answer, index, identity, True))
            dismiss.button("Dismiss", key=f"dismiss-{key}", type="secondary", icon=":material/close:",
                           on_click=_decide, args=(answer, index, identity, False))
            if decision and decision.get("error"):
                st.error(decision["error"], icon=":material/error:")
            elif decision and decision.get("outcome") not in (OK, DISMISSED, None):
                st.warning(f"Not run ({decision['outcome']}): {decision.get('message')}", icon=":material/hourglass_top:")
