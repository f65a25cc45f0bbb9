"""Drawing a DecisionResult: the recommendation, a reason per factor, readiness, cost projections and the export."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from backend.economics.cost_model import usd
from backend.economics.decision import (
    APPROACH_TITLES,
    CHECKLIST,
    DERIVED_CHECKLIST,
    RECOMMENDATION_TITLES,
    DecisionResult,
    cumulative_costs,
)
from backend.economics.report import POINTS_TO, decision_markdown, decision_pdf
from components.econ_charts import tco_figure
from components.econ_common import cost_table, show_formulas

_ICONS = {"rag": ":material/travel_explore:", "rag-default": ":material/travel_explore:",
          "fine-tuning": ":material/model_training:", "hybrid": ":material/join:"}


def show_recommendation(result: DecisionResult) -> None:
    st.success(f"### {RECOMMENDATION_TITLES[result.recommendation]}\n{result.summary}", icon=_ICONS[result.recommendation])
    for warning in result.warnings:
        st.warning(warning, icon=":material/warning:")
    st.subheader("Why: one reason per factor")
    st.markdown("\n".join(f"- **{f.question}** {f.answer} :blue-badge[{POINTS_TO.get(f.points_to, f.points_to)}]  \n"
                          f"  {f.reason}" for f in result.factors))
    with st.expander("As a table", icon=":material/table:"):
        st.dataframe(pd.DataFrame([{"question": f.question, "answer": f.answer,
                                    "points to": POINTS_TO.get(f.points_to, f.points_to), "why": f.reason}
                                   for f in result.factors]), hide_index=True)
    left, right = st.columns(2)
    with left:
        st.subheader("Data sufficiency")
        level = result.data_sufficiency.level
        (st.warning if level == "none" else st.info)(result.data_sufficiency.text, icon=":material/dataset:")
    with right:
        st.subheader(f"Fine-tuning checklist: {result.checklist_score}/{len(result.checklist)}")
        st.markdown("\n".join(
            f"- {':material/check_box:' if ok else ':material/check_box_outline_blank:'} {CHECKLIST[key]}"
            + (" _(from your answers)_" if key in DERIVED_CHECKLIST else "")
            for key, ok in result.checklist.items()))


def show_costs(result: DecisionResult) -> None:
    months = result.assumptions.months
    st.subheader(f"Cost projections at {result.inputs.monthly_queries:,} queries a month")
    columns = st.columns(len(result.projections))
    for column, (name, projection) in zip(columns, result.projections.items()):
        chosen = " (recommended)" if name == result.approach else ""
        with column.container(border=True):
            st.markdown(f"**{APPROACH_TITLES[name]}{chosen}**")
            st.metric("Monthly", usd(projection.monthly.total),
                      help=" + ".join(f"{line.name} {usd(line.usd)}" for line in projection.monthly.lines))
            st.metric("One-time", usd(projection.one_time.total),
                      help=" + ".join(f"{line.name} {usd(line.usd)}" for line in projection.one_time.lines) or "none")
            st.metric(f"{months}-month TCO", usd(projection.tco), help=projection.tco_formula)
    st.plotly_chart(tco_figure(cumulative_costs(result.projections)), key="dw_tco")
    for name, projection in result.projections.items():
        show_formulas(projection.monthly.lines + projection.one_time.lines, f"Formulas: {APPROACH_TITLES[name]}")
    with st.expander("Tables", icon=":material/table:"):
        for name, projection in result.projections.items():
            st.markdown(f"**{APPROACH_TITLES[name]}**: monthly, then one-time")
            st.dataframe(cost_table(projection.monthly.lines), hide_index=True)
            st.dataframe(cost_table(projection.one_time.lines), hide_index=True)
    with st.expander("Price sources", icon=":material/source:"):
        st.markdown("\n".join(f"- **{s['name']}**: {s['source']} (read {s['date']})" for s in result.sources))


def export_buttons(result: DecisionResult) -> None:
    st.subheader("Export the report")
    left, right = st.columns(2)
    left.download_button("Download Markdown", decision_markdown(result), file_name="decision-report.md",
                         mime="text/markdown", icon=":material/description:", on_click="ignore", key="dw_md")
    right.download_button("Download PDF", decision_pdf(result), file_name="decision-report.pdf",
                          mime="application/pdf", icon=":material/picture_as_pdf:", on_click="ignore", key="dw_pdf")
