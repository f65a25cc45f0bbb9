"""AppTest of the stakeholder pages: cost explorer (and catalog editor), capacity planner, decision wizard."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import metrics, open_page, run

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


@pytest.fixture
def pricing(data_dir, tmp_path, monkeypatch):
    """Each test gets its own data dir and its own copy of the pricing catalog."""
    path = tmp_path / "pricing.yaml"
    shutil.copy(ROOT / "data" / "pricing.yaml", path)
    monkeypatch.setenv("GROUNDWORK_PRICING_CATALOG", str(path))
    from backend.settings import get_settings
    from components.econ_common import _read_traces

    get_settings.cache_clear()
    _read_traces.clear()
    yield path
    _read_traces.clear()
    get_settings.cache_clear()


def run_page(name: str) -> AppTest:
    return open_page(name, timeout=TIMEOUT)


def click(app: AppTest, label: str) -> AppTest:
    next(b for b in app.button if b.label == label).click()
    return run(app)


def test_cost_explorer_figures_and_volume(pricing):
    app = run_page("cost_explorer")
    assert not app.error
    shown = metrics(app)
    assert shown["LLM cost per request"] == "$0.0045"  # 1,000 x $2.50/1M + 200 x $10/1M
    assert shown["Monthly on the API"] == "$520"  # $250 + $200 + $0.10 embeddings (50 tokens) + $70 vector DB
    assert shown["Break-even volume"] == "130k/mo"  # $584 L4-month / $0.0045 = 129,778
    assert any("assumed" in c.value for c in app.caption)
    app.number_input(key="ce_volume").set_value(1_000_000).run()
    assert metrics(app)["Monthly on the API"] == "$4,571"  # $2,500 + $2,000 + $1 + $70
    assert any("self-hosting is cheaper" in m.value for m in app.markdown)
    app.slider(key="ce_hit").set_value(50).run()
    assert metrics(app)["Cache savings"] == "$2,250"  # 500,000 skipped calls x $0.0045


def edit_rows(app: AppTest, section: str, rows: dict) -> None:
    app.session_state[f"catalog_{section}_0"] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}


def test_catalog_editor_validates_before_saving(pricing):
    before = pricing.read_text()
    app = run_page("cost_explorer")
    edit_rows(app, "llm_apis", {0: {"input_per_m": -1.0}})
    click(app, "Validate and save")
    assert any("llm_apis row 1 ('standard API model'): field input_per_m" in e.value for e in app.error)
    assert pricing.read_text() == before and not pricing.with_name("pricing.yaml.bak").exists()

    edit_rows(app, "llm_apis", {0: {"input_per_m": 3.0}})
    click(app, "Validate and save")
    assert pricing.with_name("pricing.yaml.bak").read_text() == before
    assert "input_per_m: 3.0" in pricing.read_text()
    assert any("Saved pricing.yaml" in s.value for s in app.success)
    assert metrics(app)["LLM cost per request"] == "$0.005"  # 1,000 x $3/1M + 200 x $10/1M


def test_catalog_editor_lists_each_problem_of_an_added_row(pricing):
    before = pricing.read_text()
    app = run_page("cost_explorer")
    app.session_state["catalog_llm_apis_0"] = {"edited_rows": {}, "deleted_rows": [], "added_rows": [
        {"name": "", "input_per_m": -3.0, "output_per_m": 1.0, "source": "", "date": "yesterday"}]}
    click(app, "Validate and save")
    message = app.error[0].value
    assert message.startswith("Not saved: 4 problems in the pricing catalog (edited):\n")
    assert "\n- llm_apis row 4: field name: Field required" in message
    assert "\n- llm_apis row 4: field input_per_m: Input should be greater than or equal to 0" in message
    assert pricing.read_text() == before


def test_malformed_catalog_is_a_message_not_a_stack_trace(pricing):
    pricing.write_text("llm_apis:\n  - name: broken\n    input_per_m: lots\n")
    for page in ("cost_explorer", "capacity_planner", "decision_wizard"):
        app = run_page(page)
        assert any("llm_apis row 1 ('broken'): field input_per_m" in e.value for e in app.error), page
    pricing.with_name("pricing.yaml.bak").write_text((ROOT / "data" / "pricing.yaml").read_text())
    app = run_page("capacity_planner")
    click(app, "Restore the previous catalog (pricing.yaml.bak)")
    assert not app.error and metrics(app)["GPU replicas"] == "6"


def test_capacity_planner_names_the_binding_constraint(pricing):
    app = run_page("capacity_planner")
    shown = metrics(app)
    # L4, 10 QPS, 1,000 in / 200 out, 70%: ceil(10 x (0.25 + 0.1667) / 0.7) = 6 replicas; 8 + 30 + 250 + 5,000 ms
    assert (shown["GPU replicas"], shown["p95 latency"]) == ("6", "5,288 ms")
    assert any("The plan fits" in s.value for s in app.success)
    app.number_input(key="cp_slo").set_value(4000).run()
    assert any("the latency SLO binds" in w.value and "output tokens" in w.value for w in app.warning)
    app.number_input(key="cp_slo").set_value(6000).run()
    app.number_input(key="cp_ceiling").set_value(1000).run()
    assert any("the cost ceiling binds" in w.value and "raise the ceiling to $3,574" in w.value for w in app.warning)
    app.number_input(key="cp_ceiling").set_value(50_000).run()
    app.number_input(key="cp_gpus").set_value(4).run()
    assert any("the throughput binds" in w.value and "get 6 GPUs (have 4)" in w.value for w in app.warning)
    app.selectbox(key="cp_reranker").set_value("local cross-encoder (CPU)").run()
    assert any("The reranker fits the latency budget" in i.value for i in app.info)  # 5,288 + 5 + 50 x 3 ms < 6 s
    app.number_input(key="cp_slo").set_value(5400).run()
    assert any("The reranker does not fit" in w.value and "at most 35 candidates" in w.value for w in app.warning)


def test_huge_figures_fit_their_tiles_and_shares_stay_readable(pricing):
    app = run_page("cost_explorer")
    app.number_input(key="ce_volume").set_value(10_000_000_000).run()
    shown = metrics(app)
    assert shown["Monthly on the API"] == "$45M"  # 1e10 x $0.0045 + $10k embeddings + $70: not "$45,010,…"
    assert all(len(value) <= 9 for value in shown.values()), shown

    app = run_page("capacity_planner")
    app.number_input(key="cp_qps").set_value(1_000_000.0).run()
    shown = metrics(app)
    # 1e6 QPS / (70% / (1,000/4,000 + 200/1,200) s per request on the L4) = 595,238.1 -> 595,239 replicas
    assert shown["GPU replicas"] == "595,239" and shown["Monthly cost"] == "$348M"  # x $584.00 a month
    warning = next(w.value for w in app.warning if "does not fit" in w.value)
    assert "74,405× of its limit" in warning and "get 595,239 GPUs (have 8)" in warning  # 595,238.1 / 8
    assert "cache hit rate" not in warning  # 99.999% would be needed: not a way out
    bars = app.get("plotly_chart")[1].proto.spec
    assert "74,405×" in bars and "7440476" not in bars  # the bar is clipped at 300%, its label is not


def test_capacity_planner_uses_measured_traces(pricing, settings):
    from backend.observability.tracing import Tracer
    from backend.store.db import Store
    from components.platform import get_platform

    settings.ensure_dirs()
    store = Store(settings.db_path)
    tracer = Tracer(store, settings)
    for _ in range(3):
        with tracer.request("rag.ask", question="q", collection="demo", tenant="default") as root:
            with tracer.span("embed_query"):
                pass
            with tracer.span("bm25"):
                pass
            with tracer.span("generate") as span:
                span.set(tokens_in=900, tokens_out=150)
            root.set(tokens_in=900, tokens_out=150, cache_hit=False)
    tracer.shutdown()
    store.close()
    get_platform.clear()
    try:
        app = run_page("capacity_planner")
        assert any("measured (3 requests)" in c.value for c in app.caption)
        assert app.toggle(key="cp_measured").value is True
        sources = app.dataframe[0].value["source"].tolist()
        assert sources[:2] == ["measured p95 (3 spans)", "measured p95 (3 spans)"]
        app.toggle(key="cp_measured").set_value(False).run()
        assert any("assumed" in c.value for c in app.caption)
    finally:
        get_platform.clear()


def test_decision_wizard_to_a_recommendation_and_export(pricing):
    app = run_page("decision_wizard")
    assert any("press **Analyse**" in i.value for i in app.info)
    app.radio(key="dw_task").set_value("both")
    click(app, "Analyse")
    assert not app.error
    assert any(s.value.startswith("### Hybrid: RAG + a LoRA adapter") for s in app.success)
    assert [d.label for d in app.get("download_button")] == ["Download Markdown", "Download PDF"]
    shown = [m.value for m in app.metric]
    assert shown[:3] == ["$2,520", "$25,000", "$85,485"]  # RAG: monthly, one-time, 24-month TCO

    app.radio(key="dw_task").set_value("knowledge")
    app.radio(key="dw_citations").set_value("no")
    app.text_input(key="dw_changes").set_value("rarely")
    app.text_input(key="dw_latency").set_value("80ms")
    click(app, "Analyse")
    assert any(s.value.startswith("### Fine-tuning (LoRA)") for s in app.success)


@pytest.mark.parametrize("key, value, message", [
    ("dw_latency", "2 fortnights", "latency requirement: unknown unit 'fortnights'"),
    ("dw_queries", "-5", "monthly queries: '-5' must be at least 1"),
    ("dw_examples", "lots of them", "training data: 'lots of them' is not a number"),
    ("dw_changes", "2 fortnights", "knowledge changes: unknown unit 'fortnights'"),
])
def test_decision_wizard_bad_input_is_an_error_on_the_field(pricing, key, value, message):
    app = run_page("decision_wizard")
    app.text_input(key=key).set_value(value)
    click(app, "Analyse")
    assert [e.value for e in app.error] and app.error[0].value.startswith(message)
    assert not app.get("download_button")


def test_zero_volume_draws_no_marker_left_of_the_curves(pricing):
    # QA: at 0 queries a month "your volume" sat at 1 on the log axis, left of every curve
    import json

    app = run_page("cost_explorer")
    app.number_input(key="ce_volume").set_value(0).run()
    assert not app.exception
    curves = next(c for c in app.get("plotly_chart") if "your volume" in c.proto.spec or "break-even" in c.proto.spec)
    annotations = [a["text"] for a in json.loads(curves.proto.spec)["layout"].get("annotations", [])]
    assert "your volume" not in annotations
    assert any("no *your volume* line" in c.value for c in app.caption)
    app.number_input(key="ce_volume").set_value(50_000).run()
    curves = next(c for c in app.get("plotly_chart") if "your volume" in c.proto.spec)
    assert "your volume" in [a["text"] for a in json.loads(curves.proto.spec)["layout"]["annotations"]]


def test_measured_figures_follow_the_data_dir(pricing, data_dir, tmp_path, monkeypatch):
    """The trace figures are cached per trace store: another data dir never gets the first one's answer."""
    from types import SimpleNamespace

    import components.platform
    from backend.settings import Settings, get_settings
    from backend.store.db import Store
    from components.econ_common import measured_figures

    assert measured_figures().note == "no trace store yet"  # this test's data dir has no store
    other = Settings(data_dir=tmp_path / "other-data")
    other.ensure_dirs()
    store = Store(other.db_path)
    monkeypatch.setenv("GROUNDWORK_DATA_DIR", str(other.data_dir))
    monkeypatch.setattr(components.platform, "get_platform", lambda: SimpleNamespace(store=store))
    get_settings.cache_clear()
    try:
        assert measured_figures().note == "no traced requests yet"
    finally:
        store.close()
