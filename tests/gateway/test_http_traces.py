"""Traces against the real server: operators and admins list and open the traces of the collections they may read
(another tenant's trace does not exist for them); analysts and stakeholders may not read single traces at all."""
from __future__ import annotations

import pytest

from backend.gateway import api_models_history as mh
from backend.observability.conventions import REQUEST_SPAN
from tests.gateway.api_client import FEE, Api, api_error, leaks, live_api
from tests.gateway.api_world import build_world

pytestmark = pytest.mark.slow
ACME = {"acme-policies", "acme-archive"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with live_api(build_world(tmp_path_factory.mktemp("traces") / "data")) as served:
        yield served


@pytest.fixture(scope="module")
def traced(api) -> dict[str, str]:
    """One request per collection (the admin asks globex's, whose own tenant's quota is used up): collection -> trace id."""
    answers = {name: api.ask(key, FEE, name) for key, name in (("alice", "acme-policies"), ("olga", "acme-archive"),
                                                                ("ada", "globex-policies"))}
    assert len(api.wait_for_traces("ada", 3)) == 3, "the three requests' traces were not exported"
    return {name: answer["trace_id"] for name, answer in answers.items()}


def listed(api: Api, key: str, **params) -> list[mh.TraceSummary]:
    return mh.TraceList.model_validate(api.ok("GET", "/api/v1/traces", key, params=params)).traces


@pytest.mark.parametrize("key, expected", [("olga", ACME), ("gina", {"globex-policies"}),
                                           ("ada", ACME | {"globex-policies"})])
def test_traces_of_the_callers_collections_only(api, traced, key, expected):
    traces = listed(api, key)
    assert {t.trace_id: t.collection for t in traces} == {traced[name]: name for name in expected}
    assert [t.start_time for t in traces] == sorted((t.start_time for t in traces), reverse=True)  # newest first
    if key == "gina":
        assert not leaks(api("GET", "/api/v1/traces", key), "gina")


@pytest.mark.parametrize("key, role", [("alice", "analyst"), ("alice_read", "analyst"), ("bob", "analyst"),
                                       ("stan", "stakeholder")])
def test_analysts_and_stakeholders_may_not_read_traces(api, traced, key, role):
    assert role in api_error(api("GET", "/api/v1/traces", key), 403)["message"]
    assert role in api_error(api("GET", f"/api/v1/traces/{traced['acme-policies']}", key), 403)["message"]


def test_no_key_no_traces(api, traced):
    api_error(api("GET", "/api/v1/traces", None), 401)
    api_error(api("GET", f"/api/v1/traces/{traced['acme-policies']}", None), 401)


def test_traces_of_one_collection_and_paged(api, traced):
    assert [t.trace_id for t in listed(api, "olga", collection="acme-archive")] == [traced["acme-archive"]]
    every = [t.trace_id for t in listed(api, "olga")]
    first, second = listed(api, "olga", limit=1), listed(api, "olga", limit=1, offset=1)
    assert [t.trace_id for t in first + second] == every and len(every) == 2
    assert listed(api, "olga", offset=2) == []


def test_traces_of_a_collection_the_caller_cannot_read_are_404(api, traced):
    for key, name in (("olga", "globex-policies"), ("gina", "acme-policies")):
        unknown = api_error(api("GET", "/api/v1/traces", key, params={"collection": "no-such"}), 404)
        body = api_error(api("GET", "/api/v1/traces", key, params={"collection": name}), 404)
        assert body["message"].replace(name, "?") == unknown["message"].replace("no-such", "?")
    assert api_error(api("GET", "/api/v1/traces", "olga", params={"limit": 0}), 422)["field"] == "limit"
    assert api_error(api("GET", "/api/v1/traces", "olga", params={"since": "today"}), 422)["field"] == "since"


def test_a_trace_with_its_spans_and_retrieved_chunks(api, traced):
    trace = mh.Trace.model_validate(api.ok("GET", f"/api/v1/traces/{traced['acme-policies']}", "olga"))
    assert (trace.collection, trace.tenant, trace.question, trace.status) == ("acme-policies", "acme", FEE, "ok")
    assert "12 EUR" in (trace.answer or "")
    assert {REQUEST_SPAN, "redact", "bm25", "dense", "fuse", "generate", "verify"} <= {s.name for s in trace.spans}
    root = [s for s in trace.spans if s.parent_span_id is None]
    assert [(s.span_id, s.name, s.depth) for s in root] == [(trace.root_span_id, REQUEST_SPAN, 0)]
    assert all(s.depth >= 1 for s in trace.spans if s.parent_span_id is not None)
    chunks = {h["chunk_id"] for h in api.ok("POST", "/api/v1/search", "olga", json={
        "query": FEE, "collection": "acme-policies", "k": 50})["hits"]}
    assert trace.documents and {d["id"] for d in trace.documents} <= chunks  # the chunks it retrieved are acme's


@pytest.mark.parametrize("key, name", [("gina", "acme-policies"), ("gina", "acme-archive"), ("olga", "globex-policies")])
def test_another_tenants_trace_does_not_exist(api, traced, key, name):
    unknown = api_error(api("GET", "/api/v1/traces/0123456789abcdef0123456789abcdef", key), 404)
    body = api_error(api("GET", f"/api/v1/traces/{traced[name]}", key), 404)
    assert body == {**unknown, "message": f"unknown trace id {traced[name]!r}"} and body["field"] == "trace_id"
