"""AppTest of the Operations page's ticket desk: an operator sees their tenant's tickets, open ones first, and closes
and reopens one in place (audited); an admin sees every tenant's; a stakeholder sees no desk."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from backend.store import tickets as ticket_store
from tests.pages.conftest import TIMEOUT, run, texts
from tests.pages.signin import ensure_user, signed_in

ROOT = Path(__file__).resolve().parents[2]


def _operations(role: str, user: str, tenant: str | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "pages" / "operations.py"), default_timeout=TIMEOUT)
    return run(signed_in(app, role, user=user, tenant=tenant))


def _world(platform) -> dict[str, int]:
    """acme: ann's closed ticket (oldest), ann's open one with her conversation, olga's own; globex: gus's."""
    ensure_user(platform, "ann", "analyst", "acme")
    ensure_user(platform, "gus", "operator", "globex")
    made = {}
    with platform.store.transaction("chat") as cur:
        for name, tenant, user, conversation in (("old", "acme", "ann", None), ("refund", "acme", "ann", "conv-ann-1"),
                                                 ("olga", "acme", "olga", "conv-olga-1"),
                                                 ("globex", "globex", "gus", None)):
            made[name] = ticket_store.insert_ticket(cur, tenant, user, f"{name} ticket", f"about {name}", "high"
                                                    if name == "refund" else "normal", conversation)["id"]
        ticket_store.set_status(cur, made["old"], "closed", "olga", ticket_store.ticket_by_id(cur, made["old"])["created_at"])
    return made


def _titles(app: AppTest) -> list[str]:
    return [str(m.value) for m in app.markdown if str(m.value).startswith("**#")]


def _ticket(platform, ticket_id: int) -> dict:
    with platform.store.cursor() as cur:
        row = ticket_store.ticket_by_id(cur, ticket_id)
    assert row is not None
    return row


def test_an_operator_sees_their_tenants_tickets_open_first_and_closes_one(platform):
    ensure_user(platform, "olga", "operator", "acme")
    made = _world(platform)
    app = _operations("operator", "olga", tenant="acme")
    assert [e.label for e in app.expander if e.label.startswith("Tickets")] == ["Tickets: 2 open"]
    titles = _titles(app)
    assert titles == [f"**#{made['olga']}** olga ticket", f"**#{made['refund']}** refund ticket",
                      f"**#{made['old']}** old ticket"]  # open ones newest first, then the closed one
    shown = texts(app)
    assert "globex" not in shown and "`conv-ann-1`" in shown  # ann's conversation: its id, only she can open it
    assert "chat?conversation=conv-olga-1" in shown  # her own: the Chat page's link (as text when run alone)
    assert app.button(key=f"ops_tickets_{made['old']}").label == "Reopen"
    close = app.button(key=f"ops_tickets_{made['refund']}")
    assert close.label == "Close" and close.proto.type == "secondary"

    close.click()
    run(app)
    row = _ticket(platform, made["refund"])
    assert (row["status"], row["closed_by"]) == ("closed", "olga") and row["closed_at"] is not None
    audit = platform.gateway.audit_log(limit=1, action="ticket.", target=str(made["refund"]))[0]
    assert (audit["actor"], audit["action"]) == ("olga", "ticket.closed")
    assert app.button(key=f"ops_tickets_{made['refund']}").label == "Reopen"
    assert [e.label for e in app.expander if e.label.startswith("Tickets")] == ["Tickets: 1 open"]
    assert f"Ticket #{made['refund']} closed." in [str(s.value) for s in app.success]

    app.button(key=f"ops_tickets_{made['refund']}").click()
    run(app)
    assert _ticket(platform, made["refund"])["status"] == "open"
    assert platform.gateway.audit_log(limit=1, action="ticket.")[0]["action"] == "ticket.reopened"


def test_an_admin_sees_every_tenants_tickets_and_a_stakeholder_no_desk(platform):
    made = _world(platform)
    admin = _operations("admin", "test-admin")
    assert f"**#{made['globex']}** globex ticket" in _titles(admin)
    stakeholder = _operations("stakeholder", "stan", tenant="acme")
    assert not [e for e in stakeholder.expander if e.label.startswith("Tickets")] and _titles(stakeholder) == []


def test_no_tickets_yet_says_where_they_come_from(platform):
    app = _operations("operator", "olga", tenant="acme")
    [desk] = [e for e in app.expander if e.label.startswith("Tickets")]
    assert desk.label == "Tickets: 0 open" and "No tickets yet" in texts(app, ("info",))
