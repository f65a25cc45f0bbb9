"""AppTest of the evaluation pages signed in as one tenant's operator: no run, gold set or collection of another
tenant appears on the leaderboard or the Experiments page, not even by a deep link to its run."""
from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from backend.evaluation import access
from components.navigation import may_use
from tests.evaluation.tenants import context_of, store_run, two_tenants
from tests.pages.conftest import ROOT, run, texts
from tests.pages.signin import signed_in

TIMEOUT = 240  # the last test runs a grid point through the hot path


def _as_acme_operator(name: str, query: dict | None = None) -> AppTest:
    app = signed_in(AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT), "operator",
                    user="acme-op", tenant="acme")
    for key, value in (query or {}).items():
        app.query_params[key] = value
    return run(app)


def _everything_shown(app: AppTest) -> str:
    """Every message, table cell and choice on the page, as one lower-case string."""
    parts = [str(e.value) for kind in ("markdown", "caption", "text", "info", "warning", "error", "success")
             for e in app.get(kind)]
    parts += [m.label + str(m.value) + str(m.help or "") for m in app.metric]
    parts += [pd.DataFrame(frame.value).to_csv() for frame in app.dataframe]
    parts += [str(option) for box in app.selectbox for option in box.options]
    parts += [e.label for e in app.expander]
    return "\n".join(parts).lower()


def test_the_leaderboard_shows_an_operator_only_their_tenants_runs(platform):
    made = two_tenants(platform)
    store_run(platform.store, tenant="globex", collection="globex-docs", gold_set="globex-gold", label="globex dense",
              pass_rates=[1.0, 1.0], finish=False)  # unfinished: must not be counted either
    app = _as_acme_operator("evaluation", {"run": str(made.run["globex"]), "question": "q1"})
    shown = _everything_shown(app)
    assert "globex" not in shown
    assert app.dataframe[0].value["run"].tolist() == [made.run["acme"]]
    assert {m.label: m.value for m in app.metric}["Runs"] == "1"
    assert "not finished" not in shown
    # The deep link named globex's run: the drill-down falls back to a run of the caller's own.
    assert app.selectbox(key="ev_run_drill").value == made.run["acme"]
    assert "what does acme charge, question 1?" in shown and "acme fees text" in shown


def test_the_experiments_page_lists_only_the_operators_gold_sets_collections_and_runs(platform):
    two_tenants(platform)
    store_run(platform.store, tenant="globex", collection="globex-docs", gold_set="globex-gold", label="globex dense",
              pass_rates=[1.0, 1.0], finish=False)
    store_run(platform.store, tenant="acme", collection="acme-docs", gold_set="acme-gold", label="acme hybrid",
              pass_rates=[1.0, 1.0], finish=False)
    app = _as_acme_operator("eval_runs")
    shown = _everything_shown(app)
    assert "globex" not in shown
    assert app.dataframe[0].value["name"].tolist() == ["acme-gold"]
    assert app.selectbox(key="ex_gold").options == ["acme-gold"]
    assert app.selectbox(key="gs_demo_collection").options == ["acme-docs"]
    unfinished = next(frame.value for frame in app.dataframe if "scored" in frame.value.columns)
    assert unfinished["label"].tolist() == ["acme hybrid"]


def test_roles_without_the_evaluation_pages_are_refused_with_a_message(platform):
    two_tenants(platform)
    for name in ("evaluation", "eval_runs"):
        for role in ("stakeholder", "analyst"):  # ROLE_PAGES gives them neither page; the API serves them read-only
            assert not may_use(role, name)
            app = run(signed_in(AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT), role,
                                user=f"acme-{role}", tenant="acme"))
            assert "is not allowed for your role" in texts(app, ("error",)) and not app.dataframe


@pytest.mark.slow
def test_an_operator_runs_an_experiment_on_their_collection_from_the_page(platform):
    made = two_tenants(platform)
    app = _as_acme_operator("eval_runs")
    app.selectbox(key="ex_source").set_value("(empty)").run()
    app.text_area(key="ex_yaml_(empty)").set_value("name: acme-page\ngrid:\n  retrieval_mode: [bm25]\n").run()
    assert "on collection `acme-docs`" in texts(app, ("markdown",))
    app.button(key="ex_run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Finished runs:" in texts(app, ("success",))
    (new,) = [r for r in access.list_runs(platform, context_of(platform, "olga")) if r["id"] != made.run["acme"]]
    assert new["base_collection"] == "acme-docs" and new["status"] == "finished"
    assert new["id"] not in {r["id"] for r in access.list_runs(platform, context_of(platform, "gina"))}
