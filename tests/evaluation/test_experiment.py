"""A small grid end to end through the real hot path: storage, resume, scratch re-chunking, bad input, the CLI."""
from __future__ import annotations

import json

import pytest

from backend.context import RequestContext
from backend.evaluation import leaderboard, runs
from backend.evaluation.experiment import resolve_gold, run_experiment
from backend.evaluation.grid import parse_experiment
from backend.models import GroundworkError, InputError
from tests.evaluation.corpus import ingest, write_corpus

pytestmark = pytest.mark.slow


def _run(store, run_id: int) -> dict:
    """One run as the leaderboard reads it (runs.list_runs, the system's view: every collection)."""
    return next(r for r in runs.list_runs(store, None) if r["id"] == run_id)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One data dir with the three-document corpus ingested once for the module (tests add runs to it)."""
    from backend.platform import Platform
    from backend.settings import Settings

    root = tmp_path_factory.mktemp("eval-e2e")
    docs, gold = write_corpus(root)
    settings = Settings(data_dir=root / "data")
    with Platform(settings) as platform:
        ingest(platform, docs)
    return {"settings": settings, "gold": gold, "data_dir": root / "data", "root": root}


@pytest.fixture
def platform(corpus, monkeypatch):
    from backend.platform import Platform
    from backend.settings import get_settings

    monkeypatch.setenv("GROUNDWORK_DATA_DIR", str(corpus["data_dir"]))
    get_settings.cache_clear()
    instance = Platform(corpus["settings"])
    yield instance
    instance.close()
    get_settings.cache_clear()


def test_small_grid_runs_end_to_end_and_is_stored(platform, corpus):
    gold = resolve_gold(platform, str(corpus["gold"]), "demo")
    experiment = parse_experiment({"name": "modes", "grid": {"retrieval_mode": ["bm25", "hybrid"], "top_k": [2]}}, "modes.yaml")
    seen = []
    outcomes = run_experiment(platform, experiment, gold, progress=seen.append)
    assert [o.label for o in outcomes] == ["bm25", "hybrid"]  # only what varies (and the mode) names a run
    assert seen[-1].phase == "finished" and seen[-1].fraction == 1.0
    for outcome in outcomes:
        run = _run(platform.store, outcome.run_id)
        assert run["status"] == "finished" and run["n_questions"] == 4
        assert run["config"]["top_k"] == 2 and run["config"]["retrieval_mode"] in ("bm25", "hybrid")
        assert run["code_version"] and run["index_version"] >= 1 and run["gold_hash"] == gold.content_hash
        metrics = run["summary"]["metrics"]
        assert metrics["recall@k"] == pytest.approx(1.0)  # each answerable question's document is retrieved
        assert 0.0 <= metrics["pass_rate"] <= 1.0 and metrics["latency_p50_ms"] > 0
        assert run["summary"]["coverage"]["recall@k"] == 3  # the unanswerable question has no gold document
        assert set(run["summary"]["unavailable"]) >= {"faithfulness", "answer_relevancy"}
        results = {r["item_id"]: r for r in runs.results(platform.store, outcome.run_id)}
        assert set(results) == {"q1", "q2", "q3", "q4"}
        first = results["q1"]
        assert first["answer"] and first["gold_rank"] == 1
        assert any(c["gold"] and c["in_context"] for c in first["retrieved"])
        assert first["metrics"]["context_recall"] == 1.0 and first["metrics"]["semantic_similarity"] > 0.5
        assert 0.0 <= first["metrics"]["evidence_match"] <= 1.0
        assert results["q4"]["metrics"]["recall@k"] is None
        assert results["q4"]["failure_class"] in ("ok", "generation_failure")
    system = RequestContext.system(platform.settings)
    board = leaderboard.leaderboard(platform, system, gold_set="small-gold", sort_by="pass_rate")
    assert {o.run_id for o in outcomes} <= set(board["run"])
    diff = leaderboard.run_diff(platform, system, outcomes[0].run_id, outcomes[1].run_id, "semantic_similarity")
    assert set(diff["item_id"]) == {"q1", "q2", "q3", "q4"} and set(diff["change"]) <= {"better", "worse", "same", "n/a"}


def test_interrupted_run_resumes_and_is_not_finished_meanwhile(platform, corpus):
    gold = resolve_gold(platform, str(corpus["gold"]), "demo")
    experiment = parse_experiment({"name": "resume", "grid": {"retrieval_mode": ["dense"], "top_k": [3]}}, "resume.yaml")

    def stop_after_two(progress):
        if progress.phase == "question" and progress.done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(platform, experiment, gold, progress=stop_after_two)
    unfinished = [r for r in runs.list_runs(platform.store, None) if r["label"].startswith("dense")]
    assert len(unfinished) == 1 and unfinished[0]["status"] == "running" and unfinished[0]["n_done"] == 2
    assert unfinished[0]["id"] not in set(leaderboard.leaderboard(platform, RequestContext.system(platform.settings))["run"])
    with pytest.raises(RuntimeError, match="2 of 4 results"):
        runs.finish_run(platform.store, unfinished[0]["id"], {})
    (outcome,) = run_experiment(platform, experiment, gold)
    assert outcome.run_id == unfinished[0]["id"] and outcome.resumed_from == 2
    assert _run(platform.store, outcome.run_id)["status"] == "finished"
    assert len(runs.results(platform.store, outcome.run_id)) == 4


def test_other_chunk_settings_run_on_a_scratch_copy(platform, corpus):
    gold = resolve_gold(platform, str(corpus["gold"]), "demo")
    experiment = parse_experiment({"name": "chunks", "base": {"retrieval_mode": "bm25", "top_k": 2},
                                   "grid": {"chunk_tokens": [48], "chunk_overlap": [8]}}, "chunks.yaml")
    (outcome,) = run_experiment(platform, experiment, gold)
    run = _run(platform.store, outcome.run_id)
    assert run["collection"].startswith("scratch-demo-48-8-") and run["base_collection"] == "demo"
    assert run["config"]["chunk_tokens"] == 48 and run["status"] == "finished"
    assert platform.corpus.count_documents(run["collection"]) == platform.corpus.count_documents("demo")
    assert runs.results(platform.store, outcome.run_id)[0]["retrieved"]


def test_bad_input_stores_no_run(platform, corpus, tmp_path):
    before = len(runs.list_runs(platform.store, None))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a?", "answer": "b", "document": "fees.md"}\n{"question": "c?", "document": "nowhere.md"}\n')
    with pytest.raises(InputError, match="bad.jsonl line 2: document 'nowhere.md' is not in collection 'demo'"):
        resolve_gold(platform, str(bad), "demo")
    gold = resolve_gold(platform, str(corpus["gold"]), "demo")
    unusable = parse_experiment({"grid": {"reranker": ["cross-encoder"]}}, "ce.yaml")
    with pytest.raises(GroundworkError, match="cross-encoder"):
        run_experiment(platform, unusable, gold)
    other = parse_experiment({"collection": "missing", "grid": {"top_k": [3]}}, "x.yaml")
    with pytest.raises(InputError, match="collection 'missing' does not exist"):
        run_experiment(platform, other, gold)
    assert len(runs.list_runs(platform.store, None)) == before


def test_cli_run_json_gate_and_list(platform, corpus, tmp_path, capsys):
    from backend.cli import main

    platform.close()  # the CLI opens its own Platform on the same data dir
    config = tmp_path / "one.yaml"
    config.write_text("name: cli\ngrid:\n  retrieval_mode: [bm25]\n  top_k: [3]\n")
    code = main(["eval", "run", "--gold", str(corpus["gold"]), "--collection", "demo", "--config", str(config), "--json",
                 "--fail-under", "recall@k=0.5", "--fail-under", "pass_rate=1.01"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # pass_rate can never reach 1.01
    assert out["gold_set"] == "small-gold" and len(out["runs"]) == 1
    assert any("pass_rate" in message for message in out["gates_failed"])
    assert not any("recall@k" in message for message in out["gates_failed"])
    assert main(["eval", "run", "--gold", "small-gold", "--config", str(config), "--fail-under", "recall@k=0.5"]) == 0
    capsys.readouterr()
    assert main(["eval", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(r["label"].startswith("bm25") and r["status"] == "finished" and "recall@k" in r["metrics"] for r in listed)
    assert main(["eval", "run", "--gold", "small-gold", "--config", str(config), "--fail-under", "recall"]) == 2
    assert "--fail-under 'recall': use METRIC=VALUE" in capsys.readouterr().err
    missing = tmp_path / "none.yaml"
    assert main(["eval", "run", "--gold", "small-gold", "--config", str(missing)]) == 2
    assert "experiment file not found" in capsys.readouterr().err


def test_retrieval_only_runs_rank_without_answering(platform, corpus):
    gold = resolve_gold(platform, str(corpus["gold"]), "demo")
    experiment = parse_experiment({"name": "rank", "retrieval_only": True, "grid": {"retrieval_mode": ["bm25"], "top_k": [1]}},
                                  "rank.yaml")
    (outcome,) = run_experiment(platform, experiment, gold)
    metrics = outcome.summary["metrics"]
    assert metrics["recall@k"] == pytest.approx(1.0) and metrics["pass_rate"] == pytest.approx(1.0)
    assert "rouge_l" not in metrics and outcome.summary["unavailable"] == {}
    assert outcome.summary["coverage"]["pass_rate"] == 3  # the question without gold documents is not scored
    results = {r["item_id"]: r for r in runs.results(platform.store, outcome.run_id)}
    assert results["q1"]["answer"] is None and results["q1"]["gold_rank"] == 1
    assert sum(c["in_context"] for c in results["q1"]["retrieved"]) == 1
    assert _run(platform.store, outcome.run_id)["config"]["retrieval_only"] is True


def test_scratch_rechunking_leaves_a_live_ingest_run_running(platform, corpus, tmp_path):
    """Regression: scratch indexes used to open a second Platform on the same file, whose constructor marked
    every 'running' ingest run (a live upload by another user of the app) as 'interrupted'."""
    import threading

    from backend.evaluation.experiment import ScratchIndexes

    (tmp_path / "live.md").write_text("# Live upload\n\nA document another user is uploading right now.\n")
    entered, release = threading.Event(), threading.Event()

    def hold(event):  # the upload's progress callback: keep its run open until the scratch copy exists
        entered.set()
        release.wait(60)

    upload = threading.Thread(target=platform.corpus.ingest, args=([tmp_path / "live.md"], "live"),
                              kwargs={"progress": hold})
    upload.start()
    try:
        assert entered.wait(60)
        live_run = platform.corpus.ingest_runs(1, "live")[0]
        assert live_run["status"] == "running"
        scratch = ScratchIndexes(platform)
        settings = platform.settings.model_copy(update={"chunk_tokens": 64, "chunk_overlap": 8})
        target, name = scratch.for_point("demo", settings)
        assert target is not platform and target.store is platform.store  # derived: one store, one file
        assert target.corpus.count_documents(name) == platform.corpus.count_documents("demo")
        assert platform.corpus.ingest_runs(1, "live")[0]["status"] == "running"
    finally:
        release.set()
        upload.join(60)
    assert platform.corpus.ingest_runs(1, "live")[0]["status"] == "finished"
