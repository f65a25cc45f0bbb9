"""create_ticket writes only once approved (or for a key holding `tickets`), in the caller's own tenant, audited;
list_tickets shows each caller only the tickets it may read."""
from __future__ import annotations

import pytest

from backend.gateway.identity import Identity
from backend.models import InputError
from backend.platform import Platform
from backend.settings import Settings
from backend.store.tickets import tickets_for
from backend.tools.executor import ToolExecutor
from backend.tools.registry import ToolRegistry
from backend.tools.spec import FAILED, FORBIDDEN, INVALID, NEEDS_APPROVAL, OK, ToolCaller
from backend.tools.tables import QUERY_TABLE
from backend.tools.tickets import CREATE_TICKET, list_tickets
from tests.gateway.helpers import PASSWORD

EMAIL = "jane.roe@example.com"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    instance = Platform(Settings(data_dir=tmp_path_factory.mktemp("tickets") / "data"))
    gw = instance.gateway
    for tenant in ("acme", "globex"):
        gw.create_tenant(tenant)
        instance.corpus.create_collection(f"{tenant}-notes", tenant=tenant)
    gw.create_user("ann", "acme", "analyst", PASSWORD)
    gw.create_user("bob", "acme", "analyst", PASSWORD)
    gw.create_user("olga", "acme", "operator", PASSWORD)
    gw.create_user("gus", "globex", "operator", PASSWORD)
    gw.create_user("sam", "acme", "stakeholder", PASSWORD)
    gw.create_user("root", "acme", "admin", PASSWORD)
    gw.create_group("acme-support", "acme")
    for member in ("ann", "bob"):
        gw.add_member("acme-support", member)
    gw.grant("acme-support", "acme-notes")
    yield instance
    instance.close()


@pytest.fixture
def executor(platform):
    platform.gateway.limits.reset()
    executor = ToolExecutor(platform, ToolRegistry([QUERY_TABLE, CREATE_TICKET]))
    yield executor
    executor.close()


def caller(platform, name: str, key_id: int | None = None, scopes: frozenset[str] = frozenset()) -> ToolCaller:
    user = platform.gateway.user(name)
    identity = Identity(user=name, tenant=user["tenant"], role=user["role"], key_id=key_id, scopes=scopes)
    return ToolCaller(identity, platform.gateway.context_for(identity))


def all_tickets(platform) -> list[dict]:
    with platform.store.cursor() as cur:
        return tickets_for(cur, None, limit=1000)


def ticket_audits(platform) -> list[dict]:
    return platform.gateway.audit_log(limit=1000, action="ticket.")


ASK = {"title": "Refund a double SWIFT fee", "description": "Charged twice for one transfer on 3 May."}


def test_a_ticket_is_refused_without_approval_and_nothing_is_written(platform, executor):
    before, audits = len(all_tickets(platform)), len(ticket_audits(platform))
    call = executor.call("create_ticket", ASK, caller(platform, "ann"))
    assert call.outcome == NEEDS_APPROVAL and call.writes
    assert call.message == "create_ticket changes data: it runs once you approve it"
    key_without_scope = executor.call("create_ticket", ASK, caller(platform, "ann", key_id=7, scopes=frozenset({"ask"})))
    assert key_without_scope.outcome == FORBIDDEN and "'tickets' scope" in key_without_scope.message
    stakeholder = executor.call("create_ticket", ASK, caller(platform, "sam"), approved=True)
    assert stakeholder.outcome == FORBIDDEN
    assert (len(all_tickets(platform)), len(ticket_audits(platform))) == (before, audits)
    assert platform.gateway.audit_log(limit=1, action="tool.")[0]["action"] == "tool.forbidden"


def test_an_approved_ticket_is_written_in_the_callers_tenant_and_audited(platform, executor):
    call = executor.call("create_ticket", {**ASK, "priority": "high"}, caller(platform, "ann"), approved=True)
    assert call.outcome == OK, call.message
    ticket_id = call.data["ticket_id"]
    assert call.result == f"Ticket #{ticket_id} opened: Refund a double SWIFT fee"
    assert call.data == {"ticket_id": ticket_id, "tenant": "acme", "status": "open"}
    [row] = [t for t in all_tickets(platform) if t["id"] == ticket_id]
    assert (row["tenant"], row["created_by"], row["title"], row["body"], row["priority"], row["status"],
            row["conversation_id"]) == ("acme", "ann", ASK["title"], ASK["description"], "high", "open", None)
    audit = next(a for a in ticket_audits(platform) if a["target"] == str(ticket_id))
    assert (audit["actor"], audit["action"]) == ("ann", "ticket.created")
    assert audit["details"]["tenant"] == "acme" and audit["details"]["priority"] == "high"
    assert platform.gateway.audit_log(limit=1, action="tool.")[0]["action"] == "tool.ok"


def test_a_key_holding_the_tickets_scope_writes_without_a_person_approving(platform, executor):
    call = executor.call("create_ticket", ASK, caller(platform, "gus", key_id=9, scopes=frozenset({"tickets"})))
    assert call.outcome == OK and call.data["tenant"] == "globex"
    audit = next(a for a in ticket_audits(platform) if a["target"] == str(call.data["ticket_id"]))
    assert audit["details"]["key_id"] == 9


def test_the_tenant_is_never_taken_from_the_arguments_and_bad_fields_are_named(platform, executor):
    before = len(all_tickets(platform))
    ann = caller(platform, "ann")
    crossing = executor.call("create_ticket", {**ASK, "tenant": "globex"}, ann, approved=True)
    assert crossing.outcome == INVALID and crossing.message.startswith("arguments.tenant: Extra inputs")
    for arguments, field in (({**ASK, "title": "x" * 121}, "title"), ({**ASK, "description": ""}, "description"),
                             ({**ASK, "title": "   "}, "title"), ({**ASK, "priority": "urgent"}, "priority")):
        call = executor.call("create_ticket", arguments, ann, approved=True)
        assert call.outcome == INVALID and call.message.startswith(f"arguments.{field}:"), call.message
    assert len(all_tickets(platform)) == before


def test_a_ticket_hands_over_only_the_callers_own_conversation(platform, executor):
    memory = platform.chat.memory
    own = memory.start("acme-notes", "acme", "a refund", user="ann")
    others = memory.start("acme-notes", "acme", "bob's question", user="bob")
    before = len(all_tickets(platform))
    refused = executor.call("create_ticket", {**ASK, "conversation_id": others}, caller(platform, "ann"), approved=True)
    assert refused.outcome == FAILED
    assert refused.message == f"arguments.conversation_id: no conversation {others!r} of yours"
    assert len(all_tickets(platform)) == before
    call = executor.call("create_ticket", {**ASK, "conversation_id": own}, caller(platform, "ann"), approved=True)
    assert call.outcome == OK
    [row] = [t for t in all_tickets(platform) if t["id"] == call.data["ticket_id"]]
    assert row["conversation_id"] == own


def test_personal_data_is_stored_redacted(platform, executor):
    call = executor.call("create_ticket", {"title": "Call back", "description": f"Write to {EMAIL} about it."},
                         caller(platform, "olga"), approved=True)
    [row] = [t for t in all_tickets(platform) if t["id"] == call.data["ticket_id"]]
    assert EMAIL not in row["body"] and "<EMAIL_ADDRESS>" in row["body"]


def test_list_tickets_is_scoped_by_tenant_and_role(platform, executor):
    ann, bob, olga, gus, root = (caller(platform, n) for n in ("ann", "bob", "olga", "gus", "root"))
    made = {}
    for who, title in ((ann, "ann's"), (bob, "bob's"), (olga, "olga's"), (gus, "gus's")):
        call = executor.call("create_ticket", {"title": title, "description": "for the list"}, who, approved=True)
        made[title] = call.data["ticket_id"]
    acme = list_tickets(platform, olga.ctx, limit=500)
    assert {t["tenant"] for t in acme} == {"acme"} and {made["ann's"], made["bob's"], made["olga's"]} <= {
        t["id"] for t in acme} and made["gus's"] not in {t["id"] for t in acme}
    assert [t["id"] for t in acme] == sorted((t["id"] for t in acme), reverse=True)  # newest first
    assert {t["tenant"] for t in list_tickets(platform, gus.ctx, limit=500)} == {"globex"}
    assert {t["created_by"] for t in list_tickets(platform, ann.ctx, limit=500)} == {"ann"}  # an analyst: own only
    everyone = list_tickets(platform, root.ctx, limit=500)
    assert {"acme", "globex"} <= {t["tenant"] for t in everyone} and len(everyone) == len(all_tickets(platform))
    assert len(list_tickets(platform, olga.ctx, limit=2)) == 2
    assert list_tickets(platform, olga.ctx, status="closed") == []
    assert list_tickets(platform, olga.ctx, status="open")[0]["id"] == made["olga's"]
    with pytest.raises(InputError) as bad_status:
        list_tickets(platform, olga.ctx, status="pending")
    assert bad_status.value.field == "status"
    with pytest.raises(InputError) as bad_limit:
        list_tickets(platform, olga.ctx, limit=0)
    assert bad_limit.value.field == "limit"
