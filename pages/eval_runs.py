"""Experiments: pick or import a gold set, define a grid over RAG settings, run it with progress, resume unfinished runs."""
import pandas as pd
import streamlit as st

from backend.evaluation import access, goldsets
from backend.evaluation.experiment import collection_chunking, resume_experiment, run_experiment
from backend.evaluation.grid import example_configs, expand_grid, parse_experiment_text
from backend.models import GroundworkError
from components.eval_common import link
from components.eval_goldsets import gold_set_sources, stored_flash
from components.navigation import may_change, page_context
from components.platform import get_platform

identity, ctx = page_context(__file__)  # the backend scopes every read and checks every write by it
can_change = may_change(identity.role, "eval_runs")  # only hides the change actions of a read-only role

st.title("Experiments")
st.caption("Score RAG configurations on a gold set: each grid point runs every question through the real hot path "
           "(untraced, uncached) and is stored with its configuration, code and index version.")
platform = get_platform()


def _progress_reporter(bar, status):
    def report(progress) -> None:
        bar.progress(progress.fraction, text=progress.describe())
        if progress.phase == "finished":
            status.write(f":material/check: run #{progress.run_id} {progress.label}")

    return report


def _run(work) -> None:
    bar = st.progress(0.0, text="Starting…")
    with st.status("Running the experiment…", expanded=True) as status:
        try:
            outcomes = work(_progress_reporter(bar, status))
        except GroundworkError as exc:
            status.update(label="The experiment stopped", state="error")
            st.error(str(exc), icon=":material/error:")
            return
        status.update(label=f"{len(outcomes)} run(s) finished", state="complete")
    bar.progress(1.0, text="Done")
    st.success(f"Finished runs: {', '.join('#' + str(o.run_id) for o in outcomes)}. Compare them on the leaderboard.",
               icon=":material/leaderboard:")
    link("pages/evaluation.py", "Open the leaderboard", ":material/leaderboard:")


# --- gold sets -----------------------------------------------------------------------------------
st.subheader("1 · Gold set")
stored_flash()
stored = goldsets.readable_goldsets(platform, ctx)
if stored:
    st.dataframe(pd.DataFrame(stored)[["name", "kind", "collection", "n_items", "origin", "created_at"]],
                 hide_index=True, width="stretch", key="gs_table")
else:
    st.info("No gold set stored yet: load the demo set or import one below." if can_change else
            "No gold set stored yet for your collections.", icon=":material/quiz:")
if stored and can_change:
    with st.expander("Add a gold set"):
        gold_set_sources(platform, ctx)
elif can_change:
    gold_set_sources(platform, ctx)
stored = goldsets.readable_goldsets(platform, ctx)

# --- the experiment --------------------------------------------------------------------------------
st.subheader("2 · Experiment")
if not stored:
    st.caption("Store a gold set first.")
    st.stop()
names = [g["name"] for g in stored]
cols = st.columns([2, 2, 1])
gold_name = cols[0].selectbox("Gold set", names, key="ex_gold")
examples = example_configs()
sources = list(examples) + ["(empty)"]
source = cols[1].selectbox("Start from", sources, key="ex_source",
                           index=sources.index("demo-grid.yaml") if "demo-grid.yaml" in sources else 0)
limit = cols[2].number_input("Questions (0 = all)", min_value=0, value=0, step=10, key="ex_limit")
template = examples.get(source, "name: my-experiment\ngrid:\n  retrieval_mode: [bm25, hybrid]\n  top_k: [3, 5]\n")
text = st.text_area("Experiment (YAML)", value=template, height=260, key=f"ex_yaml_{source}",
                    help="Keys: name, description, limit, min_answer_score, retrieval_only (rank documents, no answers), "
                         "base (fixed settings) and "
                         "grid (setting: [values]) over retrieval_mode, top_k, candidate_k, fusion, rrf_k, dense_weight, "
                         "chunk_tokens, chunk_overlap, reranker, mmr_lambda, compress_context, context_token_budget, "
                         "generator, answer_threshold, max_answer_sentences.")
gold_info = next(g for g in stored if g["name"] == gold_name)
try:
    experiment = parse_experiment_text(text, source if source in examples else "experiment.yaml")
    experiment.collection = gold_info["collection"]  # the gold set's documents decide where to ask
    if limit:
        experiment.limit = int(limit)
    points = expand_grid(experiment, platform.settings)
except GroundworkError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()
n_questions = min(gold_info["n_items"], experiment.limit or gold_info["n_items"])
st.markdown(f"**{len(points)} run(s)** × **{n_questions} question(s)** on collection `{experiment.collection}`:")
st.dataframe(pd.DataFrame([{"run": p.label, **p.overrides} for p in points]), hide_index=True, width="stretch",
             key="ex_points")
if any((p.settings.chunk_tokens, p.settings.chunk_overlap) != collection_chunking(platform, experiment.collection)
       for p in points):
    st.caption(":material/content_copy: Chunk settings other than the collection's re-index a scratch copy of it first.")
if can_change and st.button(f"Run {len(points)} run(s)", type="primary", key="ex_run"):
    _run(lambda report: run_experiment(platform, experiment, goldsets.readable_goldset(platform, gold_name, ctx), report,
                                       ctx))

# --- unfinished runs -------------------------------------------------------------------------------
unfinished = [r for r in access.list_runs(platform, ctx) if r["status"] != "finished"]
if unfinished:
    st.subheader("3 · Unfinished runs")
    st.caption("A run is shown on the leaderboard only once every question is scored. Interrupted runs keep the "
               "questions already scored; resuming their experiment continues where they stopped.")
    table = pd.DataFrame([{"run": r["id"], "experiment": r.get("experiment"), "label": r["label"], "gold set": r["gold_set"],
                           "status": r["status"], "scored": f"{r['n_done']}/{r['n_questions']}", "error": r.get("error") or ""}
                          for r in unfinished])
    st.dataframe(table, hide_index=True, width="stretch", key="ex_unfinished")
    resumable = sorted({r["experiment_id"] for r in unfinished if r["status"] == "running" and r["experiment_id"]})
    if resumable and can_change:
        cols = st.columns([3, 1])
        chosen = cols[0].selectbox("Experiment to resume", resumable, key="ex_resume_pick",
                                   format_func=lambda e: f"#{e} " + next(r.get("experiment") or "" for r in unfinished
                                                                         if r["experiment_id"] == e))
        if cols[1].button("Resume", key="ex_resume"):
            _run(lambda report: resume_experiment(platform, int(chosen), report, ctx))
