"""One question of one run, opened up: answer against reference, every score, retrieved chunks with gold marked."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from components.eval_common import CLASS_LABELS, fmt, label
from components.safe_markdown import safe_markdown


def question_drilldown(detail: dict) -> None:
    cls = detail.get("failure_class") or "ok"
    icon = ":material/check_circle:" if cls == "ok" else ":material/error:"
    st.markdown(f"#### {safe_markdown(detail['question'])}")
    st.markdown(f"{icon} **{CLASS_LABELS.get(cls, cls)}** — {detail.get('failure_reason') or ''}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Answer**")
        st.markdown(safe_markdown(detail.get("answer") or "") or "_no answer_")
    with right:
        st.markdown("**Reference answer**")
        st.markdown(safe_markdown(detail.get("reference_answer") or "") or "_none in the gold set_")
    scores = {name: value for name, value in detail["metrics"].items()}
    extra = {"latency_ms": detail.get("latency_ms"), "tokens": (detail.get("tokens_in") or 0) + (detail.get("tokens_out") or 0),
             "cost_usd": detail.get("cost_usd"), "gold_rank": detail.get("gold_rank")}
    table = pd.DataFrame(
        [{"score": label(n), "value": fmt(n, v)} for n, v in scores.items()]
        + [{"score": n, "value": "–" if v is None else f"{v:,.4g}"} for n, v in extra.items()]
    )
    st.markdown("**Every score**")
    st.dataframe(table, hide_index=True, width="stretch", key=f"drill_scores_{detail['run_id']}_{detail['item_id']}")
    retrieved = detail.get("retrieved") or []
    gold = sum(1 for r in retrieved if r["gold"])
    st.markdown(f"**Retrieved chunks** — {len(retrieved)} ranked, {gold} from a gold document; "
                "the ones handed to the generator are marked *in context*.")
    if not retrieved:
        st.caption("Nothing was retrieved for this question.")
    for row in retrieved:
        marks = ([":material/star: **gold**"] if row["gold"] else []) + (["in context"] if row["in_context"] else [])
        title = f"#{row['rank']} · {row['title'] or row['document']} · score {row['score']:.4f}" + (
            f" · {' · '.join(marks)}" if marks else "")
        with st.expander(title, expanded=row["gold"] and row["rank"] <= 3):
            st.caption(f"{row['document']} · chunk {row['chunk_id']}")
            st.text(row["text"])
