"""The evaluation API against the real server on two tenants' corpora: runs, one run with its per-question rows and
the leaderboard, each scoped by the caller's key (another tenant's run is 404 like an unknown one), JSON errors
naming the field, bodies matching the documented models."""
from __future__ import annotations

import json

import httpx
import pytest

from backend.gateway import api_models as m
from backend.gateway import api_models_evaluation as me
from backend.platform import Platform
from backend.settings import Settings
from tests.evaluation.tenants import store_run
from tests.gateway.api_world import World, build_world
from tests.live_server import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The API world plus runs: acme-policies two finished (one scoring a NaN per question) and one unfinished,
    acme-archive one finished, globex-policies one finished. Returns (world, run ids by name)."""
    built = build_world(tmp_path_factory.mktemp("api-eval") / "data")
    runs: dict[str, int] = {}
    with Platform(Settings(data_dir=built.data_dir)) as platform:
        store = platform.store
        runs["acme_good"] = store_run(store, tenant="acme", collection="acme-policies", gold_set="acme-gold",
                                      label="acme hybrid", pass_rates=[1.0, 1.0], latency=40.0)
        runs["acme_weak"] = store_run(store, tenant="acme", collection="acme-policies", gold_set="acme-gold",
                                      label="acme bm25", pass_rates=[1.0, 0.0], latency=5.0,
                                      more_metrics={"faithfulness": float("nan")})
        runs["acme_running"] = store_run(store, tenant="acme", collection="acme-policies", gold_set="acme-gold",
                                         label="acme dense", pass_rates=[1.0, 1.0], finish=False)
        runs["archive"] = store_run(store, tenant="acme", collection="acme-archive", gold_set="archive-gold",
                                    label="archive bm25", pass_rates=[0.0, 0.0])
        runs["globex"] = store_run(store, tenant="globex", collection="globex-policies", gold_set="globex-gold",
                                   label="globex bm25", pass_rates=[1.0, 1.0])
    return built, runs


@pytest.fixture(scope="module")
def client(world):
    with serve(world[0].data_dir) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


def get(client: httpx.Client, path: str, key: str | None, world: World, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.keys[key]}"} if key else {}
    return client.get(path, headers=headers, params=params)


def ok(response: httpx.Response, model):
    assert response.status_code == 200, response.text
    # Strict JSON: a metric a question could not be scored on is null, never NaN (which no JSON parser must accept).
    json.loads(response.text, parse_constant=lambda name: pytest.fail(f"{name} in the response"))
    return model.model_validate(response.json())


def error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    return m.ErrorBody.model_validate(response.json()).error.model_dump()


def test_runs_are_the_callers_tenants_only(client, world):
    built, runs = world
    listing = ok(get(client, "/api/v1/evaluation/runs", "olga", built), me.RunList)
    acme = [runs["archive"], runs["acme_running"], runs["acme_weak"], runs["acme_good"]]
    assert [r.id for r in listing.runs] == sorted(acme, reverse=True) and listing.total == 4
    assert "globex" not in get(client, "/api/v1/evaluation/runs", "olga", built).text.lower()
    running = next(r for r in listing.runs if r.id == runs["acme_running"])
    assert running.status == "running" and running.done == 1 and running.questions == 2 and running.metrics == {}
    good = next(r for r in listing.runs if r.id == runs["acme_good"])
    assert good.collection == good.queried_collection == "acme-policies" and good.metrics["pass_rate"] == 1.0
    assert good.finished_at is not None and good.config == {"retrieval_mode": "bm25"}

    page = ok(get(client, "/api/v1/evaluation/runs", "olga", built, collection="acme-policies", limit=2, offset=1),
              me.RunList)
    assert [r.id for r in page.runs] == [runs["acme_weak"], runs["acme_good"]] and page.total == 3
    assert page.collection == "acme-policies" and (page.limit, page.offset) == (2, 1)
    assert [r.id for r in ok(get(client, "/api/v1/evaluation/runs", "stan", built), me.RunList).runs] == \
        sorted(acme, reverse=True)  # a stakeholder's key reads its tenant's results
    assert {r.id for r in ok(get(client, "/api/v1/evaluation/runs", "ada", built), me.RunList).runs} == set(runs.values())


def test_an_analyst_sees_only_granted_collections_and_with_no_grant_nothing(client, world):
    built, runs = world
    alice = ok(get(client, "/api/v1/evaluation/runs", "alice_read", built), me.RunList)
    assert {r.collection for r in alice.runs} == {"acme-policies"} and alice.total == 3
    bob = ok(get(client, "/api/v1/evaluation/runs", "bob", built), me.RunList)
    assert bob.runs == [] and bob.total == 0
    assert ok(get(client, "/api/v1/evaluation/leaderboard", "bob", built), me.Leaderboard).runs == []
    error(get(client, f"/api/v1/evaluation/runs/{runs['globex']}", "bob", built), 404)
    error(get(client, f"/api/v1/evaluation/runs/{runs['archive']}", "alice", built), 404)  # acme's, not granted


def test_another_tenants_run_or_collection_is_not_found_like_an_unknown_one(client, world):
    built, runs = world
    theirs = error(get(client, f"/api/v1/evaluation/runs/{runs['globex']}", "olga", built), 404)
    unknown = error(get(client, "/api/v1/evaluation/runs/999999", "olga", built), 404)
    assert theirs == {**unknown, "message": unknown["message"].replace("999999", str(runs["globex"]))}
    assert theirs["field"] == "run_id"
    for path in ("/api/v1/evaluation/runs", "/api/v1/evaluation/leaderboard"):
        hidden = error(get(client, path, "olga", built, collection="globex-policies"), 404)
        missing = error(get(client, path, "olga", built, collection="nowhere"), 404)
        assert hidden == {**missing, "message": missing["message"].replace("nowhere", "globex-policies")}
        assert hidden["field"] == "collection" and "globex" not in hidden["message"].partition("(")[2]


def test_one_run_with_its_per_question_rows(client, world):
    built, runs = world
    detail = ok(get(client, f"/api/v1/evaluation/runs/{runs['acme_weak']}", "olga", built), me.RunDetail)
    assert detail.label == "acme bm25" and detail.metrics["pass_rate"] == 0.5 and detail.failures == {"ok": 1,
                                                                                                         "retrieval_miss": 1}
    assert detail.unavailable == {"faithfulness": "unavailable for acme"} and detail.coverage["pass_rate"] == 2
    assert [r.item_id for r in detail.results] == ["q1", "q2"] and detail.results[1].failure_class == "retrieval_miss"
    assert detail.results[0].metrics == {"pass_rate": 1.0, "recall@k": 1.0, "faithfulness": None}
    assert all(r.retrieved is None for r in detail.results)
    drilled = ok(get(client, f"/api/v1/evaluation/runs/{runs['acme_weak']}", "olga", built, with_retrieved="true"),
                 me.RunDetail)
    chunk = drilled.results[0].retrieved[0]
    assert chunk.gold and chunk.in_context and chunk.text == "acme fees text"


def test_the_leaderboard_ranks_the_callers_finished_runs(client, world):
    built, runs = world
    board = ok(get(client, "/api/v1/evaluation/leaderboard", "olga", built), me.Leaderboard)
    assert [e.run for e in board.runs] == [runs["acme_good"], runs["acme_weak"], runs["archive"]]  # by pass rate
    assert [e.rank for e in board.runs] == [1, 2, 3] and board.sort_by == "pass_rate"
    assert board.runs[0].metrics["pass_rate"] == 1.0 and board.runs[0].collection == "acme-policies"
    fastest = ok(get(client, "/api/v1/evaluation/leaderboard", "olga", built, collection="acme-policies",
                     sort_by="latency_p50_ms"), me.Leaderboard)
    assert [e.run for e in fastest.runs] == [runs["acme_weak"], runs["acme_good"]]  # lowest latency first
    archive = ok(get(client, "/api/v1/evaluation/leaderboard", "olga", built, gold_set="archive-gold"), me.Leaderboard)
    assert [e.run for e in archive.runs] == [runs["archive"]] and archive.gold_set == "archive-gold"
    assert [e.run for e in ok(get(client, "/api/v1/evaluation/leaderboard", "gina", built), me.Leaderboard).runs] == \
        [runs["globex"]]


def test_bad_input_names_the_field(client, world):
    built, runs = world
    assert error(get(client, "/api/v1/evaluation/runs/first", "olga", built), 400)["field"] == "run_id"
    assert error(get(client, "/api/v1/evaluation/leaderboard", "olga", built, sort_by="colour"), 400)["field"] == "sort_by"
    assert error(get(client, "/api/v1/evaluation/runs", "olga", built, limit="0"), 422)["field"] == "limit"
    assert error(get(client, "/api/v1/evaluation/runs", "olga", built, colection="acme"), 422)["field"] == "colection"
    assert error(get(client, f"/api/v1/evaluation/runs/{runs['acme_good']}", None, built), 401)["field"] == "authorization"
    assert error(get(client, "/api/v1/evaluation/runs", "olga", built, offset="-1"), 422)["field"] == "offset"
