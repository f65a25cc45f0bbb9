"""Tenant isolation over every surface, as API calls and as UI calls: two tenants whose collections hold
near-identical documents with different figures, an analyst granted one collection, one with no grant. Every
API operation in the OpenAPI document is probed (a new one without a probe fails the suite), every page each
role may open is read whole; the suite counts what comes back of another tenant or an ungranted collection,
and that count is 0."""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from backend.platform import Platform
from backend.settings import Settings
from backend.store import tickets as ticket_store
from tests.evaluation.tenants import store_run
from tests.gateway.api_world import World, build_world
from tests.gateway.helpers import PASSWORD
from tests.live_server import serve
from tests.pages.conftest import ROOT, pages_on
from tests.pages.signin import TOKEN_KEY

pytestmark = pytest.mark.slow

# What each tenant's data says that the other's does not (figures in context, names, sources, evaluation text).
ACME = ("acme", "is 12 eur", "is 1 eur", "has 45 days", "was 7 eur")
ARCHIVE = ("acme-archive", "acme archive", "was 7 eur", "old.md")
GLOBEX_DATA = ("is 19 eur", "is 3 eur", "has 60 days", "globex-policies", "globex fees", "globex cards",
               "globex charges", "globex-gold", "globex bm25")
GLOBEX = ("globex", *GLOBEX_DATA)
# caller -> what must never reach them. bob is in tenant globex but granted nothing, so he sees its name only.
FORBIDDEN = {"alice": GLOBEX + ARCHIVE, "olga": GLOBEX, "stan": GLOBEX, "gina": ACME, "bob": ACME + GLOBEX_DATA}
ROLES = {"alice": "analyst", "olga": "operator", "stan": "stakeholder", "gina": "operator", "bob": "analyst"}
QUESTION = "What is the fee for international transfers?"
TICKETS = {"olga": "acme", "alice": "acme", "gina": "globex"}  # who opened a ticket, in which tenant


@dataclass
class Activity:
    """What the tenants' users did before the server started: conversations, messages, traces, evaluation runs."""

    world: World
    conversations: dict[str, str] = field(default_factory=dict)  # user -> their conversation id
    messages: dict[str, int] = field(default_factory=dict)  # user -> their assistant message id
    traces: dict[str, list[str]] = field(default_factory=dict)  # tenant -> trace ids
    eval_runs: dict[str, int] = field(default_factory=dict)  # collection -> run id
    tickets: dict[str, int] = field(default_factory=dict)  # user -> the ticket they opened


def _activity(world: World) -> Activity:
    done = Activity(world)
    with Platform(Settings(data_dir=world.data_dir)) as platform:
        gateway = platform.gateway
        for user, collection in (("olga", "acme-policies"), ("alice", "acme-policies"), ("ada", "acme-archive"),
                                 ("gina", "globex-policies")):
            ctx = gateway.context_for(gateway.keys.authenticate(world.keys[user]))
            answer = platform.chat.ask(QUESTION, collection, ctx=ctx)
            done.conversations[user], done.messages[user] = answer.conversation_id, answer.message_id
        for collection, tenant in (("acme-policies", "acme"), ("acme-archive", "acme"), ("globex-policies", "globex")):
            gold = "globex-gold" if tenant == "globex" else f"{collection}-gold"
            done.eval_runs[collection] = store_run(platform.store, tenant=tenant, collection=collection, gold_set=gold,
                                                   label=f"{tenant} bm25", pass_rates=[1.0, 0.0])
        with platform.store.transaction("chat") as cur:
            for user, tenant in TICKETS.items():
                done.tickets[user] = ticket_store.insert_ticket(cur, tenant, user, f"{tenant} hand-over",
                                                                f"{tenant} charges to check")["id"]
        platform.tracer.flush()
        with platform.store.cursor() as cur:
            for tenant in ("acme", "globex"):
                rows = cur.execute("SELECT trace_id FROM traces WHERE tenant = ?", [tenant]).fetchall()
                done.traces[tenant] = [r[0] for r in rows]
    assert done.traces["acme"] and done.traces["globex"], "the world must hold traces of both tenants"
    return done


@pytest.fixture(scope="module")
def activity(tmp_path_factory) -> Activity:
    done = _activity(build_world(tmp_path_factory.mktemp("isolation") / "data"))
    shutil.copytree(done.world.data_dir, done.world.data_dir.parent / "ui")  # the pages' own copy
    return done


# --- the foreign things each caller must not reach, and an unknown one of the same shape -----------------------
def _foreign(activity: Activity, caller: str) -> dict[str, list]:
    world = activity.world
    tenant = "globex" if caller in ("gina", "bob") else "acme"
    readable = {"alice": {"acme-policies"}, "bob": set(), "gina": {"globex-policies"}}.get(
        caller, {"acme-policies", "acme-archive"})
    collections = [c for c in world.documents if c not in readable]
    other_traces = [t for name, ids in activity.traces.items() if name != tenant for t in ids]
    if caller in ("alice", "bob"):  # analysts read no traces at all
        other_traces = activity.traces["acme"] + activity.traces["globex"]
    return {
        "tenant": ["acme" if tenant == "globex" else "globex"],
        "collection": collections,
        "document": [d for c in collections for d in world.documents[c]],
        "ingest_run": [world.runs[c] for c in collections],
        "eval_run": [activity.eval_runs[c] for c in collections],
        "trace": other_traces[:3],
        "conversation": [cid for user, cid in activity.conversations.items() if user != caller],
        "message": [mid for user, mid in activity.messages.items() if user != caller],
        # an operator reads their tenant's tickets; anyone else only their own
        "ticket": [tid for user, tid in activity.tickets.items()
                   if (TICKETS[user] != tenant if ROLES[caller] == "operator" else user != caller)],
    }


def _unknown(value):
    return value + 100_000 if isinstance(value, int) else f"{value[:-4]}dead" if len(value) > 8 else f"zz-{value}"


# path template -> which foreign kind fills its parameter
PATH_KINDS = {
    "/api/v1/collections/{name}/documents": "collection", "/api/v1/collections/{name}/stats": "collection",
    "/api/v1/documents/{id}": "document", "/api/v1/ingest-runs/{id}": "ingest_run",
    "/api/v1/conversations/{id}": "conversation", "/api/v1/conversations/{id}/export": "conversation",
    "/api/v1/traces/{trace_id}": "trace",
    "/api/v1/evaluation/runs/{id}": "eval_run", "/api/v1/tickets/{id}": "ticket",
}
# platform-wide configuration that holds no tenant's data (an external MCP server is shared by all tenants)
NO_TENANT_DATA = {"/api/v1/tools/servers/{name}/retry"}
# body-taking operations -> (foreign kind, body for a value); uploads and document deletes use the caller's ingest key
BODIES = {
    ("post", "/api/v1/search"): ("collection", lambda v: {"json": {"query": QUESTION, "collection": v}}),
    ("post", "/api/v1/ask"): ("collection", lambda v: {"json": {"question": QUESTION, "collection": v}}),
    ("post", "/api/v1/feedback"): ("message", lambda v: {"json": {"message_id": v, "rating": 1}}),
    ("post", "/v1/chat/completions"): ("collection", lambda v: {"json": {
        "model": v, "messages": [{"role": "user", "content": QUESTION}]}}),
    ("post", "/api/v1/collections"): ("tenant", lambda v: {"json": {"name": "probe-new", "tenant": v}}),
    ("post", "/api/v1/collections/{name}/documents"): ("collection", lambda v: {
        "files": {"file": ("probe.md", b"# Probe\nA probe document.", "text/markdown")}}),
    ("patch", "/api/v1/conversations/{id}"): ("conversation", lambda v: {"json": {"title": "probe rename"}}),
    ("patch", "/api/v1/tickets/{id}"): ("ticket", lambda v: {"json": {"status": "closed"}}),
}
# POST /api/v1/tools/{name}: per tool, (foreign kind, the arguments that aim it at a foreign value)
TOOL_PROBES = {
    "search_documents": ("collection", lambda v: {"query": QUESTION, "collection": v}),
    "read_document_section": ("document", lambda v: {"document_id": v}),
    "query_table": ("document", lambda v: {"table": str(v)}),
}
INGEST_KEY = {"olga": "olga_ingest", "gina": "gina_ingest"}
LISTS_WITH_COLLECTION = {"/api/v1/traces", "/api/v1/evaluation/runs", "/api/v1/evaluation/leaderboard",
                         "/api/v1/conversations"}
SEARCHES = {"/api/v1/conversations": "international transfers"}  # text every user's conversation holds


def _untimed(text: str) -> str:
    """A tool call's record says how long it took; two refusals alike differ in that alone."""
    return re.sub(r'"duration_ms":[0-9.eE+-]+', '"duration_ms":0', text)


@dataclass
class Probes:
    leaks: list[str] = field(default_factory=list)
    count: int = 0

    def check(self, caller: str, surface: str, text: str) -> None:
        self.count += 1
        lowered = text.lower()
        found = [needle for needle in FORBIDDEN[caller] if needle in lowered]
        if found:
            self.leaks.append(f"{caller} {surface}: {', '.join(found)}: {text[:300]}")

    def same_as_unknown(self, caller: str, surface: str, foreign: httpx.Response, unknown: httpx.Response,
                        value, unknown_value) -> None:
        """A foreign thing answers exactly as a thing that does not exist: no oracle of its existence."""
        self.check(caller, surface, foreign.text.replace(str(value), "<value>"))
        seen = (foreign.status_code, _untimed(foreign.text).replace(str(value), "<value>"))
        expected = (unknown.status_code, _untimed(unknown.text).replace(str(unknown_value), "<value>"))
        if seen != expected or foreign.status_code < 400:
            self.leaks.append(f"{caller} {surface}: answers {seen} where an unknown value answers {expected}")


def _operations(client: httpx.Client, key: str) -> list[tuple[str, str]]:
    document = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {key}"}).json()
    return [(method, path) for path, item in document["paths"].items() for method in item
            if method in ("get", "post", "delete", "put", "patch")]


def _probe_api(client: httpx.Client, activity: Activity, caller: str, probes: Probes) -> None:
    world = activity.world
    headers = {"Authorization": f"Bearer {world.keys[caller]}"}
    ingest = {"Authorization": f"Bearer {world.keys[INGEST_KEY.get(caller, caller)]}"}
    foreign = _foreign(activity, caller)
    for method, path in _operations(client, world.keys[caller]):
        surface = f"{method.upper()} {path}"
        changes_corpus = method == "delete" and path.startswith("/api/v1/documents") or (
            method == "post" and path.startswith("/api/v1/collections"))
        auth = ingest if changes_corpus else headers
        if (method, path) == ("post", "/api/v1/tools/{name}"):
            for tool, (kind, arguments) in TOOL_PROBES.items():
                for value in foreign[kind][:2]:
                    url = f"/api/v1/tools/{tool}"
                    probes.same_as_unknown(caller, f"{surface} {tool}", client.post(url, headers=headers, json={
                        "arguments": arguments(value)}), client.post(url, headers=headers, json={
                        "arguments": arguments(_unknown(value))}), value, _unknown(value))
        elif (method, path) in BODIES:
            kind, body = BODIES[(method, path)]
            for value in foreign[kind][:2]:
                url = path.replace("{name}", str(value)).replace("{id}", str(value))
                unknown_url = path.replace("{name}", str(_unknown(value))).replace("{id}", str(_unknown(value)))
                probes.same_as_unknown(caller, surface, client.request(method, url, headers=auth, **body(value)),
                                       client.request(method, unknown_url, headers=auth, **body(_unknown(value))),
                                       value, _unknown(value))
        elif path in NO_TENANT_DATA:
            continue
        elif "{" in path:
            assert path in PATH_KINDS, f"{surface}: a new route needs a probe in PATH_KINDS or BODIES"
            for value in foreign[PATH_KINDS[path]][:3]:
                url = path.split("{")[0] + str(value) + path.split("}")[1]
                unknown_url = path.split("{")[0] + str(_unknown(value)) + path.split("}")[1]
                probes.same_as_unknown(caller, surface, client.request(method, url, headers=auth),
                                       client.request(method, unknown_url, headers=auth), value, _unknown(value))
        else:
            assert method == "get", f"{surface}: a new route needs a probe in BODIES"
            probes.check(caller, surface, client.get(path, headers=headers).text)
            if path in SEARCHES:  # a search finds only the caller's own, though others' hold the same text
                found = client.get(path, headers=headers, params={"q": SEARCHES[path]})
                probes.check(caller, f"{surface}?q", found.text)
                probes.leaks += [f"{caller} {surface}?q: lists {cid}" for cid in foreign["conversation"] if cid in found.text]
            if path in LISTS_WITH_COLLECTION:
                for value in foreign["collection"][:2]:
                    probes.same_as_unknown(caller, f"{surface}?collection", client.get(path, headers=headers, params={
                        "collection": value}), client.get(path, headers=headers, params={
                        "collection": _unknown(value)}), value, _unknown(value))


def test_no_api_operation_returns_another_tenants_or_an_ungranted_collections_data(activity):
    probes = Probes()
    limits = {"GROUNDWORK_RATE_LIMIT_PER_MINUTE": "100000", "GROUNDWORK_ROUTE_LIMIT_PER_MINUTE": "100000"}
    with serve(activity.world.data_dir, env=limits) as url, httpx.Client(base_url=url, timeout=120) as client:
        for caller in FORBIDDEN:
            _probe_api(client, activity, caller, probes)
        # The probes are not vacuous: the same calls do return the caller's own tenant's data.
        own = client.post("/api/v1/search", json={"query": QUESTION, "collection": "globex-policies"},
                          headers={"Authorization": f"Bearer {activity.world.keys['gina']}"})
        assert "19 EUR" in own.text, own.text[:300]
        listed = client.get("/api/v1/traces", headers={"Authorization": f"Bearer {activity.world.keys['olga']}"})
        assert activity.traces["acme"][0] in listed.text
        mine = client.get("/api/v1/conversations", params={"q": SEARCHES["/api/v1/conversations"]},
                          headers={"Authorization": f"Bearer {activity.world.keys['alice']}"})
        assert activity.conversations["alice"] in mine.text, mine.text[:300]
    print(f"\ntenant isolation over the API: {probes.count} responses checked, {len(probes.leaks)} leaks")
    assert probes.leaks == []
    assert probes.count > 100


# --- the UI: every page each role may open, read whole, and the deep links to foreign things ------------------
def _page_text(app: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "text", "code", "json", "title",
                 "header", "subheader", "exception"):
        parts += [str(e.value) for e in app.get(kind)]
    parts += [f"{m.label} {m.value}" for m in app.metric]
    parts += [e.value.to_string() for e in app.dataframe] + [e.value.to_string() for e in app.table]
    for widget in (*app.selectbox, *app.multiselect, *app.radio):
        parts += [str(option) for option in widget.options]
    return "\n".join(parts)


def _open(page: str, caller: str, platform, query: dict | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=180)
    app.session_state[TOKEN_KEY] = platform.gateway.sign_in(caller, PASSWORD).token  # the world's own account
    for key, value in (query or {}).items():
        app.query_params[key] = str(value)
    app.run()
    assert not app.exception, (page, caller, [e.value for e in app.exception])  # an error page would hide a leak
    return app


def test_no_page_shows_another_tenants_or_an_ungranted_collections_data(activity, monkeypatch):
    from components.navigation import ROLE_PAGES
    from components.platform import get_platform

    probes, pages_read = Probes(), 0
    with pages_on(monkeypatch, activity.world.data_dir.parent / "ui"):
        platform = get_platform()
        for caller, role in ROLES.items():
            foreign = _foreign(activity, caller)
            for page in sorted(ROLE_PAGES[role]):
                app = _open(page, caller, platform)
                probes.check(caller, f"page {page}", _page_text(app))
                pages_read += 1
            links = [("corpus_documents", "doc", foreign["document"]), ("trace_explorer", "trace", foreign["trace"]),
                     ("evaluation", "run", foreign["eval_run"]), ("eval_runs", "run", foreign["eval_run"]),
                     ("corpus_search", "q", ["international transfers fee"])]
            for page, param, values in links:
                if page in ROLE_PAGES[role]:
                    for value in values[:2]:
                        probes.check(caller, f"page {page}?{param}={value}",
                                     _page_text(_open(page, caller, platform, {param: value})))
            if "chat" in ROLE_PAGES[role]:
                app = _open("chat", caller, platform)
                for past in (w for w in app.selectbox if w.key == "chat_past"):
                    past.set_value(None)  # AppTest cannot read back an untouched index=None selectbox's state
                if app.chat_input:  # bob, granted nothing, is told so and has no box to ask in
                    app.chat_input[0].set_value(QUESTION).run()
                answered = _page_text(app)
                probes.check(caller, "page chat: a question", answered)
                if caller == "alice":  # not vacuous: her one collection's figure does come back
                    assert "12 EUR" in answered, answered[-600:]
    print(f"\ntenant isolation in the UI: {pages_read} pages and {probes.count} page states checked, "
          f"{len(probes.leaks)} leaks")
    assert probes.leaks == []
