"""AppTest of the evaluation pages: leaderboard (ranking, Pareto, bars, diff, drill-down, failures) and experiments."""
from __future__ import annotations

import pytest

from backend.evaluation import goldsets, runs
from backend.evaluation.metrics import summarize
from tests.pages.conftest import open_page
from tests.pages.conftest import texts as page_texts

TIMEOUT = 240  # the experiments page runs a small grid through the hot path


def run_page(name: str, query: dict | None = None):
    return open_page(name, query, timeout=TIMEOUT)


def texts(app) -> str:
    return page_texts(app, ("markdown", "caption", "info", "warning", "error", "success"))


def _store_run(store, label: str, scores: dict[str, list], latency: float, finish: bool = True) -> int:
    """A run written through the same storage calls the runner uses, with per-question scores given here."""
    names = list(scores)
    run_id = runs.create_run(store, experiment_id=None, label=label, gold_set="demo", gold_hash="h", base_collection="demo",
                             collection="demo", config={"retrieval_mode": label.split()[0]}, config_hash=label,
                             index_version=1, n_questions=3)
    classes = ["ok", "retrieval_miss", "ranking_miss"]
    for n in range(3 if finish else 1):
        metrics = {name: scores[name][n] for name in names}
        runs.save_result(store, run_id, {
            "item_id": f"q{n + 1}", "ordinal": n, "question": f"Question number {n + 1}?", "answer": f"Answer {n + 1} [1].",
            "reference_answer": f"Reference {n + 1}.", "metrics": metrics, "gold_rank": 1 if n == 0 else None,
            "latency_ms": latency + n, "tokens_in": 100, "tokens_out": 20, "cost_usd": 0.0,
            "failure_class": classes[n] if metrics["pass_rate"] == 0 else "ok", "failure_reason": "reason",
            "retrieved": [{"rank": 1, "chunk_id": 7, "document_id": 1, "document": "fees.md", "title": "Fees",
                           "score": 0.5, "gold": n == 0, "in_context": True, "text": "International transfers cost £3.50."}],
        })
    if finish:
        results = runs.results(store, run_id, with_retrieved=False)
        runs.finish_run(store, run_id, {**summarize(results, names), "unavailable": {"faithfulness": "unavailable (no judge configured)"}})
    return run_id


def test_leaderboard_empty_state(platform):
    app = run_page("evaluation")
    assert "No finished evaluation runs yet" in texts(app) and "eval run" in texts(app)
    assert not app.get("plotly_chart")


def test_leaderboard_ranks_compares_drills_down_and_classifies(platform):
    store = platform.store
    a = _store_run(store, "bm25 k=3", {"pass_rate": [1.0, 0.0, 0.0], "recall@k": [1.0, 0.0, 1.0]}, latency=10)
    b = _store_run(store, "hybrid k=5", {"pass_rate": [1.0, 1.0, 0.0], "recall@k": [1.0, 1.0, 1.0]}, latency=30)
    _store_run(store, "dense k=3", {"pass_rate": [0.0], "recall@k": [0.0]}, latency=5, finish=False)
    app = run_page("evaluation")
    shown = {m.label: m.value for m in app.metric}
    assert shown["Runs"] == "2" and shown["Best Pass rate"] == "0.667" and shown["On the Pareto front"] == "2"
    assert "1 run(s) not finished" in texts(app)
    assert "Faithfulness (LLM judge): unavailable (no judge configured)" in texts(app)
    assert len(app.get("plotly_chart")) >= 4  # Pareto, metric bars, diff, failures
    assert "2 better" not in texts(app) and f"From **#{a}** to **#{b}**: 1 better, 0 worse" in texts(app)
    assert "Retrieval miss (gold never retrieved)" in texts(app) or "Ranking miss" in texts(app)
    app.selectbox(key="ev_rank").set_value("latency_p50_ms").run()
    assert not app.exception
    assert app.dataframe[0].value["run"].tolist()[0] == a  # the leaderboard table: lowest latency first
    app = run_page("evaluation", {"run": str(a), "question": "q1"})
    assert app.selectbox(key="ev_run_drill").value == a and app.selectbox(key="ev_question").value == "q1"
    assert "Question number 1?" in texts(app) and "Reference 1." in texts(app)
    assert any("gold" in e.label and "in context" in e.label for e in app.expander)


def test_experiments_page_without_gold_sets(platform):
    app = run_page("eval_runs")
    assert "No gold set stored yet" in texts(app)
    assert "No collection exists yet" in texts(app)


@pytest.mark.slow
def test_experiments_page_previews_validates_and_runs(platform, tmp_path):
    from tests.evaluation.corpus import ingest, write_corpus

    docs, gold_file = write_corpus(tmp_path)
    ingest(platform, docs)
    goldsets.register_goldset(platform, goldsets.read_gold_file(gold_file, collection="demo"))
    app = run_page("eval_runs")
    assert app.selectbox(key="ex_gold").value == "small-gold"
    app.selectbox(key="ex_source").set_value("(empty)").run()
    app.text_area(key="ex_yaml_(empty)").set_value("name: t\ngrid:\n  top_k: [0]\n").run()
    assert "grid.top_k[0] = 0: must be between 1 and 100" in texts(app)
    app.text_area(key="ex_yaml_(empty)").set_value("name: page-run\ngrid:\n  retrieval_mode: [bm25, dense]\n").run()
    app.number_input(key="ex_limit").set_value(2).run()
    assert "**2 run(s)** × **2 question(s)**" in texts(app)
    app.button(key="ex_run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Finished runs:" in texts(app)
    finished = runs.list_runs(platform.store, None, status="finished")
    assert {r["label"] for r in finished} == {"bm25", "dense"} and all(r["n_questions"] == 2 for r in finished)
