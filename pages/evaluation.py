"""Evaluation leaderboard: runs ranked by any metric, quality against latency and cost, diffs, drill-downs, failures."""
import streamlit as st

from backend.evaluation import access
from backend.evaluation import leaderboard as lb
from backend.evaluation.failure_analysis import CLASSES, LABELS, failure_report
from components.eval_charts import diff_figure, failure_figure, metric_bars_figure, pareto_figure
from components.eval_common import COST_AXES, empty_state, fmt, label, pick_run, run_option
from components.eval_drilldown import question_drilldown
from components.navigation import page_context
from components.platform import get_platform
from components.safe_markdown import safe_markdown

identity, ctx = page_context(__file__)  # every read below is scoped by it: only the caller's collections' runs

st.title("Evaluation leaderboard")
st.caption("Which RAG configuration answers the gold questions best, at what latency and cost, and why the "
           "failures fail. Every run is stored with its full configuration, code and index version.")
platform = get_platform()

everything = lb.leaderboard(platform, ctx)
unfinished = [r for r in access.list_runs(platform, ctx) if r["status"] != "finished"]
if unfinished:
    st.caption(f":material/hourglass_top: {len(unfinished)} run(s) not finished (interrupted, running or failed) are "
               "left out; running the same experiment again resumes them.")
if everything.empty:
    empty_state("pages/eval_runs.py")
    st.stop()

# --- which runs, ranked by what ------------------------------------------------------------------
gold_sets = sorted(everything["gold_set"].unique())
top = st.columns([2, 2, 2])
gold = top[0].selectbox("Gold set", gold_sets, key="ev_gold",
                        help="Runs are only comparable on the same questions.")
board = lb.leaderboard(platform, ctx, gold_set=gold)
qualities = lb.quality_metrics(board)
default_rank = qualities.index("pass_rate") if "pass_rate" in qualities else 0
rank_by = top[1].selectbox("Rank by", lb.metric_columns(board), index=lb.metric_columns(board).index(qualities[default_rank]),
                           format_func=label, key="ev_rank")
costs = [c for c in COST_AXES if c in board.columns and board[c].notna().any()]
cost = top[2].selectbox("Against", costs, format_func=label, key="ev_cost")
board = lb.leaderboard(platform, ctx, gold_set=gold, sort_by=rank_by)
quality = rank_by if rank_by in qualities else qualities[default_rank]
board = lb.with_pareto(board, quality, cost)
missing = lb.unavailable_metrics(platform, ctx, gold)
for reason in sorted(set(missing.values())):
    names = ", ".join(label(m) for m, why in missing.items() if why == reason)
    st.caption(f":material/block: {names}: {reason}")

board_tab, diff_tab, drill_tab, failure_tab = st.tabs(["Leaderboard", "Compare runs", "Question drill-down", "Failure analysis"])

with board_tab:
    best = board.iloc[0]
    tiles = st.columns(4)
    tiles[0].metric("Runs", f"{len(board)}")
    tiles[1].metric(f"Best {label(rank_by)}", fmt(rank_by, best[rank_by]), help=run_option(board, int(best["run"])))
    tiles[2].metric("Questions", f"{int(best['questions'])}")
    tiles[3].metric("On the Pareto front", f"{int(board['pareto'].sum())}",
                    help=f"Runs no other run beats on both {label(quality)} and {label(cost)}.")
    shown = ["run", "label", "experiment", rank_by] + [m for m in lb.metric_columns(board) if m != rank_by] + [
        "pareto", "collection", "code_version", "index_version", "finished_at"]
    st.dataframe(board[shown], hide_index=True, width="stretch", key="ev_table",
                 column_config={m: st.column_config.NumberColumn(label(m), format="%.3f") for m in qualities})
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{label(quality)} against {label(cost).lower()}**")
        st.plotly_chart(pareto_figure(board, quality, cost), key="ev_pareto")
    with right:
        dollars = "cost_per_query_usd"
        st.markdown(f"**{label(quality)} against cost per query**")
        if dollars in board.columns and board[dollars].fillna(0).any():
            st.plotly_chart(pareto_figure(lb.with_pareto(board, quality, dollars), quality, dollars), key="ev_pareto_cost")
        else:
            st.info("Every run here cost $0 per query (the extractive generator spends no LLM tokens); with an LLM "
                    "generator this chart shows quality against dollars.", icon=":material/payments:")
    picked = st.multiselect("Metrics to compare", qualities, default=[m for m in qualities if m in (
        "pass_rate", "recall@k", "ndcg@10", "semantic_similarity", "rouge_l", "context_recall")][:6] or qualities[:4],
        format_func=label, key="ev_bars")
    if picked:
        shown_runs = board.head(8)  # more bars than this per group stop being readable
        if len(board) > len(shown_runs):
            st.caption(f"The best {len(shown_runs)} of {len(board)} runs by {label(rank_by)}.")
        st.plotly_chart(metric_bars_figure(lb.metric_bars(shown_runs, picked)), key="ev_bars_chart")

with diff_tab:
    if len(board) < 2:
        st.info("Two finished runs on this gold set are needed for a comparison.", icon=":material/compare_arrows:")
    else:
        cols = st.columns(3)
        run_a = pick_run(board, "Run A (before)", "ev_diff_a", default=int(board["run"].iloc[1]), container=cols[0])
        run_b = pick_run(board, "Run B (after)", "ev_diff_b", default=int(board["run"].iloc[0]), container=cols[1])
        metric = cols[2].selectbox("Per-question metric", qualities, index=qualities.index(quality), format_func=label,
                                   key="ev_diff_metric")
        diff = lb.run_diff(platform, ctx, run_a, run_b, metric)
        counts = diff["change"].value_counts()
        st.markdown(f"From **#{run_a}** to **#{run_b}**: {int(counts.get('better', 0))} better, "
                    f"{int(counts.get('worse', 0))} worse, {int(counts.get('same', 0))} unchanged on {label(metric)}.")
        st.plotly_chart(diff_figure(diff), key="ev_diff_chart")
        changed = diff[diff["change"].isin(["better", "worse"])]
        st.dataframe(changed if not changed.empty else diff, hide_index=True, width="stretch", key="ev_diff_table",
                     column_config={"a": st.column_config.NumberColumn(f"#{run_a}", format="%.3f"),
                                    "b": st.column_config.NumberColumn(f"#{run_b}", format="%.3f"),
                                    "delta": st.column_config.NumberColumn("Δ", format="%+.3f")})

with drill_tab:
    run_id = pick_run(board, "Run", "ev_run_drill", default=int(board["run"].iloc[0]))
    questions = lb.per_question(platform, ctx, run_id)
    options = questions["item_id"].tolist()
    wanted = st.query_params.get("question")
    text = dict(zip(questions["item_id"], questions["question"]))
    classes = dict(zip(questions["item_id"], questions["class"]))
    item = st.selectbox("Question", options, index=options.index(wanted) if wanted in options else 0,
                        format_func=lambda i: f"{i} · {'✓' if classes[i] == 'ok' else '✗'} {text[i][:90]}", key="ev_question")
    detail = lb.question_detail(platform, ctx, run_id, item)
    if detail:
        question_drilldown(detail)
    with st.expander("Every question of this run"):
        st.dataframe(questions, hide_index=True, width="stretch", key="ev_questions_table")

with failure_tab:
    run_id = pick_run(board, "Run", "ev_run_failures", default=int(board["run"].iloc[0]))
    report = failure_report(platform, ctx, run_id, examples=3)
    counts = report["counts"]
    tiles = st.columns(len(CLASSES) + 1)
    tiles[0].metric("Passed", f"{counts['ok']} / {report['total']}")
    for tile, name in zip(tiles[1:], CLASSES):
        tile.metric(LABELS[name].split(" (")[0], f"{counts[name]}", help=LABELS[name])
    st.plotly_chart(failure_figure(counts), key="ev_failures_chart")
    for name in CLASSES:
        if report["examples"][name]:
            st.markdown(f"**{LABELS[name]}** — {counts[name]} question(s), for example:")
            for example in report["examples"][name]:
                st.markdown(f"- `{example['item_id']}` {safe_markdown(example['question'])}  \n  _{example['failure_reason']}_")
