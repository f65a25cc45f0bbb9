"""The ticket desk: tickets listed and read within the caller's tenants (an analyst: their own), closed and reopened
by operators and admins with who and when, every change audited; the same over /api/v1/tickets (404, 403, 422)."""
from __future__ import annotations

from typing import get_args

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from backend.gateway import api_models_tickets as mk
from backend.gateway.http import api_routes
from backend.gateway.identity import Identity
from backend.models import Forbidden, InputError, NotFound
from backend.platform import Platform
from backend.settings import Settings
from backend.store import tickets as ticket_store
from backend.tools.tickets import get_ticket, list_tickets, set_ticket_status
from tests.gateway.helpers import PASSWORD

USERS = (("ann", "acme", "analyst"), ("bob", "acme", "analyst"), ("olga", "acme", "operator"),
         ("sam", "acme", "stakeholder"), ("root", "acme", "admin"), ("gus", "globex", "operator"))
KEYS = {"olga": ["read", "tickets"], "olga_read": ["read"], "ann": ["read", "ask", "tickets"],
        "gus": ["read", "tickets"], "root": ["read", "tickets"]}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with Platform(Settings(data_dir=tmp_path_factory.mktemp("desk") / "data")) as platform:
        gateway = platform.gateway
        for tenant in ("acme", "globex"):
            gateway.create_tenant(tenant)
        for name, tenant, role in USERS:
            gateway.create_user(name, tenant, role, PASSWORD)
        yield platform


@pytest.fixture(scope="module")
def keys(platform) -> dict[str, str]:
    return {name: platform.gateway.create_key(name.split("_")[0], scopes)[0] for name, scopes in KEYS.items()}


@pytest.fixture(scope="module")
def http(platform):
    app = Starlette(routes=api_routes(lambda: platform))
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def ctx_of(platform, name: str):
    user = platform.gateway.user(name)
    return platform.gateway.context_for(Identity(user=name, tenant=user["tenant"], role=user["role"]))


def open_ticket(platform, user: str, title: str, priority: str = "normal") -> int:
    """A ticket as create_ticket records it (the tool's own path, approval and redaction, is tests/tools/test_tickets.py)."""
    tenant = platform.gateway.user(user)["tenant"]
    with platform.store.transaction("chat") as cur:
        return ticket_store.insert_ticket(cur, tenant, user, title, f"{title}: details", priority)["id"]


def audits(platform, ticket_id: int) -> list[dict]:
    return platform.gateway.audit_log(limit=100, action="ticket.", target=str(ticket_id))


def api(http, key: str | None, method: str, path: str, keys: dict[str, str], **kwargs):
    headers = {"Authorization": f"Bearer {keys[key]}"} if key else {}
    return http.request(method, path, headers=headers, **kwargs)


def error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_the_api_models_name_the_stores_statuses_and_priorities():
    assert get_args(mk.Status) == ticket_store.STATUSES and get_args(mk.Priority) == ticket_store.PRIORITIES


# --- the backend ----------------------------------------------------------------------------------------------------
def test_each_caller_lists_the_tickets_it_may_read_open_ones_first(platform):
    made = {who: open_ticket(platform, who, f"{who}'s hand-over") for who in ("ann", "bob", "olga", "gus")}
    set_ticket_status(platform, ctx_of(platform, "olga"), made["bob"], "closed")
    olga = list_tickets(platform, ctx_of(platform, "olga"), limit=500, open_first=True)
    ids = [t["id"] for t in olga]
    assert {made["ann"], made["bob"], made["olga"]} <= set(ids) and made["gus"] not in ids
    assert {t["tenant"] for t in olga} == {"acme"}
    statuses = [t["status"] for t in olga]
    assert statuses == sorted(statuses, key=lambda s: s != "open")  # every open one before every closed one
    assert ids.index(made["olga"]) < ids.index(made["ann"]) < ids.index(made["bob"])  # newest open first
    assert {t["created_by"] for t in list_tickets(platform, ctx_of(platform, "ann"), limit=500)} == {"ann"}
    assert list_tickets(platform, ctx_of(platform, "sam"), limit=500) == []  # a stakeholder opened none
    assert {t["tenant"] for t in list_tickets(platform, ctx_of(platform, "gus"), limit=500)} == {"globex"}
    everyone = {t["id"] for t in list_tickets(platform, ctx_of(platform, "root"), limit=500)}
    assert set(made.values()) <= everyone
    assert made["bob"] in {t["id"] for t in list_tickets(platform, ctx_of(platform, "olga"), "closed", 500)}


def test_an_operator_closes_and_reopens_with_who_and_when_and_each_change_is_audited(platform):
    ticket_id = open_ticket(platform, "ann", "Refund a double fee", "high")
    olga = ctx_of(platform, "olga")
    closed = set_ticket_status(platform, olga, ticket_id, "closed", key_id=7)
    assert (closed["status"], closed["closed_by"]) == ("closed", "olga") and closed["closed_at"] is not None
    assert closed["closed_at"] >= closed["created_at"]
    [row] = audits(platform, ticket_id)
    assert (row["actor"], row["action"]) == ("olga", "ticket.closed")
    assert row["details"] == {"tenant": "acme", "from": "open", "to": "closed", "key_id": 7}
    again = set_ticket_status(platform, olga, ticket_id, "closed")  # nothing to change: no second audit row
    assert again == closed and len(audits(platform, ticket_id)) == 1
    reopened = set_ticket_status(platform, ctx_of(platform, "root"), ticket_id, "open")
    assert (reopened["status"], reopened["closed_by"], reopened["closed_at"]) == ("open", None, None)
    latest = audits(platform, ticket_id)[0]
    assert (latest["actor"], latest["action"], latest["details"]["to"]) == ("root", "ticket.reopened", "open")
    assert get_ticket(platform, olga, ticket_id) == reopened


def test_only_operators_and_admins_of_its_tenant_change_a_ticket(platform):
    acme, globex = open_ticket(platform, "ann", "acme's"), open_ticket(platform, "gus", "globex's")
    for who in ("ann", "sam"):  # the analyst who opened it may not close it either
        with pytest.raises(Forbidden, match="may not close or reopen tickets"):
            set_ticket_status(platform, ctx_of(platform, who), acme, "closed")
    with pytest.raises(NotFound) as other_tenant:
        set_ticket_status(platform, ctx_of(platform, "olga"), globex, "closed")
    assert other_tenant.value.field == "ticket_id"
    with pytest.raises(NotFound):
        set_ticket_status(platform, ctx_of(platform, "olga"), 999_999, "closed")
    with pytest.raises(InputError) as bad:
        set_ticket_status(platform, ctx_of(platform, "olga"), acme, "done")
    assert bad.value.field == "status"
    assert audits(platform, acme) == [] and audits(platform, globex) == []
    assert set_ticket_status(platform, ctx_of(platform, "root"), globex, "closed")["closed_by"] == "root"


def test_reading_one_ticket_follows_the_list_rule(platform):
    ann_own, bobs = open_ticket(platform, "ann", "ann's"), open_ticket(platform, "bob", "bob's")
    assert get_ticket(platform, ctx_of(platform, "ann"), ann_own)["created_by"] == "ann"
    for who, ticket_id in (("ann", bobs), ("gus", ann_own), ("olga", 999_999)):
        with pytest.raises(NotFound, match=f"no ticket {ticket_id} among those you can read"):
            get_ticket(platform, ctx_of(platform, who), ticket_id)


# --- the HTTP API ---------------------------------------------------------------------------------------------------
def test_get_tickets_is_the_keys_users_and_filters_by_status(platform, http, keys):
    mine, theirs = open_ticket(platform, "ann", "via the API"), open_ticket(platform, "gus", "globex via the API")
    listing = mk.TicketList.model_validate(api(http, "olga", "GET", "/api/v1/tickets", keys,
                                               params={"limit": 500}).json())
    ids = {t.id for t in listing.tickets}
    assert mine in ids and theirs not in ids and {t.tenant for t in listing.tickets} == {"acme"}
    closed = api(http, "olga", "GET", "/api/v1/tickets", keys, params={"status": "closed", "limit": 500}).json()
    assert closed["tickets"] and {t["status"] for t in closed["tickets"]} == {"closed"}
    assert {t["created_by"] for t in api(http, "ann", "GET", "/api/v1/tickets", keys).json()["tickets"]} == {"ann"}
    assert {t["tenant"] for t in api(http, "gus", "GET", "/api/v1/tickets", keys).json()["tickets"]} == {"globex"}
    assert error(api(http, "olga", "GET", "/api/v1/tickets", keys, params={"status": "pending"}), 422)["field"] == "status"
    assert error(api(http, "olga", "GET", "/api/v1/tickets", keys, params={"limit": 0}), 422)["field"] == "limit"
    assert error(api(http, None, "GET", "/api/v1/tickets", keys), 401)["field"] == "authorization"


def test_get_one_ticket_is_404_for_another_tenants_and_400_for_a_bad_id(platform, http, keys):
    acme, globex = open_ticket(platform, "olga", "acme one"), open_ticket(platform, "gus", "globex one")
    ticket = mk.Ticket.model_validate(api(http, "olga", "GET", f"/api/v1/tickets/{acme}", keys).json())
    assert (ticket.id, ticket.status, ticket.closed_by) == (acme, "open", None)
    missing = error(api(http, "olga", "GET", f"/api/v1/tickets/{globex}", keys), 404)
    assert missing["field"] == "ticket_id" and "globex" not in missing["message"]
    assert error(api(http, "olga", "GET", "/api/v1/tickets/abc", keys), 400)["field"] == "ticket_id"
    assert error(api(http, "ann", "GET", f"/api/v1/tickets/{acme}", keys), 404)["field"] == "ticket_id"  # not hers


def test_patch_closes_for_an_operators_tickets_key_and_refuses_everyone_else(platform, http, keys):
    ticket_id = open_ticket(platform, "ann", "close me over the API")
    path = f"/api/v1/tickets/{ticket_id}"
    analyst = error(api(http, "ann", "PATCH", path, keys, json={"status": "closed"}), 403)
    assert "analyst role may not close" in analyst["message"]
    no_scope = error(api(http, "olga_read", "PATCH", path, keys, json={"status": "closed"}), 403)
    assert "scope 'tickets'" in no_scope["message"]
    assert error(api(http, "gus", "PATCH", path, keys, json={"status": "closed"}), 404)["field"] == "ticket_id"
    assert error(api(http, "olga", "PATCH", path, keys, json={"status": "done"}), 422)["field"] == "status"
    assert error(api(http, "olga", "PATCH", path, keys, json={"status": "closed", "by": "x"}), 422)["field"] == "by"
    assert audits(platform, ticket_id) == [] and get_ticket(platform, ctx_of(platform, "olga"), ticket_id)["status"] == "open"
    response = api(http, "olga", "PATCH", path, keys, json={"status": "closed"})
    assert response.status_code == 200, response.text
    closed = mk.Ticket.model_validate(response.json())
    assert (closed.status, closed.closed_by) == ("closed", "olga") and closed.closed_at is not None
    [row] = audits(platform, ticket_id)
    olga_key = next(k for k in platform.gateway.list_keys(user="olga") if "tickets" in k["scopes"])
    assert (row["actor"], row["action"], row["details"]["key_id"]) == ("olga", "ticket.closed", olga_key["id"])
    reopened = api(http, "root", "PATCH", path, keys, json={"status": "open"}).json()
    assert (reopened["status"], reopened["closed_by"], reopened["closed_at"]) == ("open", None, None)
