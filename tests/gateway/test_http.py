"""The HTTP API against the real server (uvicorn on components.asgi:app) on two tenants' corpora: statuses,
JSON errors naming the field, scoping by the caller, limits, and the OpenAPI document matching the routes."""
from __future__ import annotations

import shutil

import httpx
import pytest
from openapi_spec_validator import validate

from backend.gateway import api_models as m
from backend.gateway.http import api_routes
from backend.platform import Platform
from backend.retrieval.collection_index import MODES
from backend.settings import Settings
from tests.gateway.api_world import World, build_world
from tests.live_server import serve

pytestmark = pytest.mark.slow
FEE = "What is the fee for international transfers?"
GLOBEX = ("globex", "19 EUR", "60 days", "3 EUR")  # what an acme caller must never see
ACME = ("acme", "12 EUR", "45 days", "1 EUR")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    built = build_world(tmp_path_factory.mktemp("api") / "data")
    shutil.copytree(built.data_dir, built.data_dir.parent / "spare")  # for tests with a server of their own
    return built


@pytest.fixture(scope="module")
def client(world):
    with serve(world.data_dir) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


def call(client: httpx.Client, method: str, path: str, key: str | None, world: World, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.keys[key]}"} if key else {}
    return client.request(method, path, headers=headers, **kwargs)


def error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    m.ErrorBody.model_validate(response.json())
    return response.json()["error"]


def assert_no_leak(response: httpx.Response, of: tuple[str, ...] = GLOBEX) -> None:
    text = response.text.lower()
    assert not [needle for needle in of if needle.lower() in text], response.text[:500]


# --- the server ---------------------------------------------------------------------------------
def test_health_needs_no_key(client, world):
    response = call(client, "GET", "/api/v1/health", None, world)
    assert response.status_code == 200
    assert m.Health.model_validate(response.json()).status == "ok"


def test_the_ui_is_served_by_the_same_process(client):
    assert client.get("/_stcore/health").text == "ok"
    assert "<div id=\"root\">" in client.get("/").text


def test_openapi_document_is_valid_and_lists_exactly_the_routes(client, world):
    response = call(client, "GET", "/api/v1/openapi.json", None, world)
    assert response.status_code == 200
    document = response.json()
    validate(document)
    served = set()
    for mount in api_routes(lambda: None):
        for route in mount.routes:
            served |= {(mount.path + route.path, method.lower()) for method in route.methods - {"HEAD"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == served


def test_the_api_mode_names_are_the_retrievers(client):
    assert set(m.Mode.__args__) == set(MODES)


# --- who calls ------------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer", "Bearer gw_00000000_" + "x" * 43, "Bearer nonsense"])
def test_no_or_bad_key_is_401_with_a_json_error(client, header):
    response = client.get("/api/v1/collections", headers={"Authorization": header} if header else {})
    body = error(response, 401)
    assert body["field"] == "authorization" and response.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_is_401(client, world):
    response = client.get("/api/v1/collections", headers={"Authorization": f"Bearer {world.revoked_key}"})
    error(response, 401)


def test_a_key_without_the_ask_scope_cannot_ask_but_can_read(client, world):
    body = error(call(client, "POST", "/api/v1/ask", "alice_read", world, json={"question": FEE}), 403)
    assert "'ask'" in body["message"]
    assert call(client, "GET", "/api/v1/collections", "alice_read", world).status_code == 200
    error(call(client, "POST", "/v1/chat/completions", "stan", world,
               json={"model": "acme-policies", "messages": [{"role": "user", "content": FEE}]}), 403)


# --- scoped reads ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key, expected", [
    ("alice", ["acme-policies"]),  # analyst: her grant only
    ("olga", ["acme-archive", "acme-policies"]),  # operator: her tenant
    ("stan", ["acme-archive", "acme-policies"]),  # stakeholder: her tenant, read only
    ("gina", ["globex-policies"]),
    ("bob", []),  # analyst with no grant: nothing, never everything
    ("ada", ["acme-archive", "acme-policies", "globex-policies"]),  # admin
])
def test_collections_are_the_callers(client, world, key, expected):
    response = call(client, "GET", "/api/v1/collections", key, world)
    assert response.status_code == 200
    listed = m.CollectionList.model_validate(response.json()).collections
    assert sorted(c.name for c in listed) == expected


def test_documents_of_a_readable_collection_paged(client, world):
    response = call(client, "GET", "/api/v1/collections/acme-policies/documents", "alice", world,
                    params={"limit": 1, "order_by": "title", "descending": "false"})
    assert response.status_code == 200
    page = m.DocumentList.model_validate(response.json())
    assert page.total == 2 and len(page.documents) == 1 and page.documents[0].title == "Acme cards"
    assert_no_leak(response)


def test_another_tenants_or_an_ungranted_collection_does_not_exist(client, world):
    missing = error(call(client, "GET", "/api/v1/collections/no-such/documents", "alice", world), 404)
    for name in ("globex-policies", "acme-archive"):
        body = error(call(client, "GET", f"/api/v1/collections/{name}/documents", "alice", world), 404)
        assert body["field"] == "collection"
        assert body["message"].replace(name, "?") == missing["message"].replace("no-such", "?")  # same as unknown


def test_bad_document_query_parameters_are_422_naming_them(client, world):
    body = error(call(client, "GET", "/api/v1/collections/acme-policies/documents", "alice", world,
                      params={"limit": 0}), 422)
    assert body["field"] == "limit"
    body = error(call(client, "GET", "/api/v1/collections/acme-policies/documents", "alice", world,
                      params={"sort": "title"}), 422)
    assert body["field"] == "sort"


def test_a_document_by_id_only_when_readable(client, world):
    own = world.documents["acme-policies"][0]
    response = call(client, "GET", f"/api/v1/documents/{own}", "alice", world)
    assert response.status_code == 200
    document = m.Document.model_validate(response.json())
    assert "12 EUR" in document.text and document.collection == "acme-policies"
    other = world.documents["globex-policies"][0]
    body = error(call(client, "GET", f"/api/v1/documents/{other}", "alice", world), 404)
    assert body == {**error(call(client, "GET", "/api/v1/documents/99999", "alice", world), 404),
                    "message": f"unknown document id {other}"}
    assert error(call(client, "GET", "/api/v1/documents/abc", "alice", world), 400)["field"] == "document_id"


def test_search_finds_only_the_callers_chunks(client, world):
    response = call(client, "POST", "/api/v1/search", "alice", world,
                    json={"query": "fee for international transfers", "collection": "acme-policies", "k": 3})
    assert response.status_code == 200
    result = m.SearchResponse.model_validate(response.json())
    assert result.hits and "12 EUR" in result.hits[0].text and result.mode == "hybrid" and result.k == 3
    assert_no_leak(response)
    assert error(call(client, "POST", "/api/v1/search", "alice", world,
                      json={"query": "fee", "collection": "globex-policies"}), 404)["field"] == "collection"
    gina = call(client, "POST", "/api/v1/search", "gina", world, json={"query": "fee", "collection": "globex-policies",
                                                                     "mode": "bm25"})
    assert gina.status_code == 200 and "19 EUR" in gina.text
    assert_no_leak(gina, ACME)


@pytest.mark.parametrize("body, status, field", [
    ({"query": "fee", "mode": "fuzzy"}, 422, "mode"),
    ({"query": "fee", "k": 0}, 422, "k"),
    ({"query": "fee", "k": "many"}, 422, "k"),
    ({"query": "fee", "colection": "acme-policies"}, 422, "colection"),  # a typo is named, not ignored
    ({"collection": "acme-policies"}, 422, "query"),
    ({"query": 7}, 422, "query"),
    ({"query": "   "}, 400, "query"),  # the backend's own check, its message
    (["fee"], 422, None),
])
def test_bad_search_bodies_name_the_field(client, world, body, status, field):
    assert error(call(client, "POST", "/api/v1/search", "alice", world, json=body), status)["field"] == field


def test_malformed_or_oversized_bodies(client, world):
    assert "not valid JSON" in error(call(client, "POST", "/api/v1/search", "alice", world, content=b"{query"),
                                     400)["message"]
    huge = {"query": "fee " * 300_000}
    error(call(client, "POST", "/api/v1/search", "alice", world, json=huge), 413)

    def chunks():  # no Content-Length: the limit is counted while reading
        yield b'{"query": "'
        for _ in range(1200):
            yield b"x" * 1000
        yield b'"}'

    error(call(client, "POST", "/api/v1/search", "alice", world, content=chunks()), 413)


def test_unknown_endpoints_and_methods_are_json(client, world):
    assert error(call(client, "GET", "/api/v1/nothing-here", "alice", world), 404)["message"] == "no such endpoint"
    error(call(client, "GET", "/api/v1/search", "alice", world), 405)


@pytest.mark.parametrize("path", ["/api/v1/documents/%00", "/api/v1/collections/..%5C..%5Cetc/documents",
                                  "/api/v1/collections/u%0AL/documents"])  # a newline stops Mount's pattern
def test_paths_streamlit_refuses_are_refused_as_json(client, world, path):
    assert error(call(client, "GET", path, "alice", world), 400)["field"] == "path"  # not Streamlit's text/plain


def test_text_that_is_not_text_is_refused(client, world):
    body = b'{"query": "fee", "collection": "\\ud800"}'  # half a UTF-16 pair, escaped in valid JSON
    assert "surrogate" in error(call(client, "POST", "/api/v1/search", "alice", world, content=body), 400)["message"]
    assert error(call(client, "GET", "/api/v1/collections/acme-policies/documents", "alice", world,
                      params={"offset": 10**20}), 422)["field"] == "offset"


# --- answers ----------------------------------------------------------------------------------------
def test_ask_answers_from_the_callers_collection_and_follows_up(client, world):
    response = call(client, "POST", "/api/v1/ask", "alice", world, json={"question": FEE, "collection": "acme-policies"})
    assert response.status_code == 200
    answer = m.AskResponse.model_validate(response.json())
    assert "12 EUR" in answer.answer and answer.grounded and answer.citations
    assert {c.document_id for c in answer.citations} <= set(world.documents["acme-policies"])
    assert_no_leak(response)
    follow_up = call(client, "POST", "/api/v1/ask", "alice", world,
                     json={"question": "and for domestic transfers?", "collection": "acme-policies",
                           "conversation_id": answer.conversation_id})
    assert follow_up.status_code == 200 and "1 EUR" in follow_up.json()["answer"]
    assert follow_up.json()["conversation_id"] == answer.conversation_id


def server_timing(response: httpx.Response) -> dict[str, float]:
    metrics = dict(part.strip().split(";dur=") for part in response.headers["server-timing"].split(","))
    return {name: float(value) for name, value in metrics.items()}


def test_responses_say_how_long_the_core_and_the_gateway_took(client, world):
    response = call(client, "POST", "/api/v1/ask", "alice", world, json={"question": FEE, "collection": "acme-policies"})
    timing = server_timing(response)
    assert set(timing) == {"core", "gateway"} and timing["gateway"] >= 0
    # The core's figure covers the chat service's whole answer, which times itself from inside.
    assert timing["core"] >= response.json()["latency_ms"] > 0
    listing = server_timing(call(client, "GET", "/api/v1/collections", "alice", world))
    assert set(listing) == {"gateway"}  # no chat call: all of it is the gateway's
    refused = call(client, "POST", "/api/v1/ask", None, world, json={"question": FEE})
    assert refused.status_code == 401 and set(server_timing(refused)) == {"gateway"}


def test_a_conversation_is_its_users_only(client, world):
    started = call(client, "POST", "/api/v1/ask", "alice", world, json={"question": FEE, "collection": "acme-policies"})
    conversation = started.json()["conversation_id"]
    other = call(client, "POST", "/api/v1/ask", "olga", world,  # same tenant, same collection, another user
                 json={"question": "and for domestic transfers?", "collection": "acme-policies",
                       "conversation_id": conversation})
    assert error(other, 404)["field"] == "conversation_id"


def test_ask_errors(client, world):
    def ask(body, key="alice"):
        return call(client, "POST", "/api/v1/ask", key, world, json=body)

    assert error(ask({"question": FEE, "collection": "globex-policies"}), 404)["field"] == "collection"
    assert error(ask({"question": FEE, "collection": "acme-archive"}), 404)["field"] == "collection"  # not granted
    assert error(ask({"question": FEE, "collection": "acme-policies", "conversation_id": "nope"}),
                 404)["field"] == "conversation_id"
    assert error(ask({"question": "\x00\x01"}), 400)["field"] == "question"
    assert error(ask({"question": FEE, "k": 51}), 422)["field"] == "k"
    archive = ask({"question": FEE, "collection": "acme-archive"}, key="olga")  # an operator reads the whole tenant
    assert archive.status_code == 200 and "7 EUR" in archive.json()["answer"]


def test_an_exhausted_quota_stops_the_answer_before_generation(client, world):
    response = call(client, "POST", "/api/v1/ask", "gina", world, json={"question": FEE, "collection": "globex-policies"})
    body = error(response, 429)
    assert "quota" in body["message"] and "globex" in body["message"]
    assert int(response.headers["Retry-After"]) >= 1


def test_past_the_rate_limit_429_with_retry_after_and_usage_recorded(world):
    spare = world.data_dir.parent / "spare"
    with serve(spare, env={"GROUNDWORK_RATE_LIMIT_PER_MINUTE": "3"}) as url, httpx.Client(base_url=url, timeout=120) as c:
        answer = call(c, "POST", "/api/v1/ask", "alice", world, json={"question": FEE, "collection": "acme-policies"})
        assert answer.status_code == 200
        for _ in range(2):
            assert call(c, "GET", "/api/v1/collections", "alice", world).status_code == 200
        limited = call(c, "GET", "/api/v1/collections", "alice", world)
        assert "rate limit" in error(limited, 429)["message"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert call(c, "GET", "/api/v1/collections", "olga", world).status_code == 200  # per key and user, not global
    with Platform(Settings(data_dir=spare)) as platform:
        usage = platform.gateway.usage("acme")
    spent = answer.json()["tokens_in"] + answer.json()["tokens_out"]
    assert usage["requests"] == 1 and usage["tokens"] == spent


def test_a_query_parameter_given_twice_is_refused_naming_it(client, world):
    for path, name in (("/api/v1/collections/acme-policies/documents", "limit"), ("/api/v1/evaluation/leaderboard", "gold_set")):
        body = error(call(client, "GET", f"{path}?{name}=1&{name}=2", "olga", world), 422)
        assert body["field"] == name and "once" in body["message"]
