"""Decision wizard: RAG, fine-tuning or hybrid, from five questions and the fine-tuning checklist, with costs and a report."""
import streamlit as st

from backend.economics.decision import CHECKLIST, DERIVED_CHECKLIST, CostAssumptions, analyze
from backend.models import GroundworkError
from components.econ_common import catalog_or_stop
from components.econ_decision import export_buttons, show_costs, show_recommendation
from components.navigation import require_page

identity = require_page(__file__)

TASK_LABELS = {
    "knowledge": "Knowledge: answer from our documents (\"what is our refund policy?\")",
    "behaviour": "Behaviour: a voice or a strict output format",
    "both": "Both: answer from documents, in our style",
    "unsure": "Not sure yet",
}

st.title("RAG or fine-tuning?")
st.caption("Knowledge is retrieved; behaviour is trained. Answer five questions and get a recommendation, "
           "the reason for each factor, costs for all three approaches and a report to share.")

catalog = catalog_or_stop()

with st.form("decision_form"):
    st.subheader("The five questions")
    c1, c2 = st.columns(2)
    knowledge_changes = c1.text_input(
        "1. How often does the knowledge change?", "weekly", key="dw_changes",
        help="daily, weekly, monthly, quarterly, rarely (stable 6+ months), never; or an interval: every 2 weeks, 3 months")
    needs_citations = c2.radio("2. Are citations or an audit trail required?", ["yes", "no"], horizontal=True,
                               key="dw_citations")
    task = st.radio("3. What is the task about?", list(TASK_LABELS), format_func=TASK_LABELS.get, key="dw_task")
    c1, c2, c3 = st.columns(3)
    training_data = c1.text_input("4. How many training examples exist?", "200 examples", key="dw_examples",
                                  help="e.g. 50, 200 examples, 1.5k")
    latency = c2.text_input("5. What latency is required?", "2s", key="dw_latency", help="e.g. 2s, 800ms, 80ms")
    monthly_queries = c3.text_input("Queries per month", "100k", key="dw_queries", help="e.g. 100000, 100k, 2M")

    with st.expander("Fine-tuning checklist (tick what already holds)"):
        ticked = [key for key, text in CHECKLIST.items()
                  if key not in DERIVED_CHECKLIST and st.checkbox(text, key=f"dw_check_{key}")]
        st.caption("Examples, stable knowledge, behaviour change and critical latency are read from your answers.")

    with st.expander("Cost assumptions"):
        c1, c2, c3 = st.columns(3)
        llm = c1.selectbox("LLM API for RAG", catalog.names("llm_apis"), key="dw_llm")
        fine_tune = c2.selectbox("Fine-tuning option", ["by data sufficiency"] + catalog.names("fine_tuning"), key="dw_ft")
        months = c3.number_input("TCO horizon (months)", 1, 120, 24, key="dw_months")
        c1, c2, c3 = st.columns(3)
        rag_tokens = c1.number_input("RAG input tokens per query", 0, 1_000_000, 1_000, key="dw_rag_in",
                                     help="Question + prompt + retrieved chunks; the source's typical query is 1,000.")
        tuned_tokens = c2.number_input("Tuned-model input tokens (no retrieval)", 0, 1_000_000, 200, key="dw_tuned_in")
        out_tokens = c3.number_input("Output tokens per query", 0, 1_000_000, 200, key="dw_out")

    submitted = st.form_submit_button("Analyse", type="primary", icon=":material/analytics:")

if submitted:
    st.session_state["dw_raw"] = {
        "knowledge_changes": knowledge_changes, "needs_citations": needs_citations, "task": task,
        "training_data": training_data, "latency_requirement": latency, "monthly_queries": monthly_queries,
        "checklist": ticked,
    }
    st.session_state["dw_assumptions"] = CostAssumptions(
        llm=llm, fine_tune=None if fine_tune == "by data sufficiency" else fine_tune, rag_tokens_in=int(rag_tokens),
        tuned_tokens_in=int(tuned_tokens), tokens_out=int(out_tokens), months=int(months))

if "dw_raw" not in st.session_state:
    st.info("Answer the questions and press **Analyse**.", icon=":material/quiz:")
    st.stop()

try:
    result = analyze(st.session_state["dw_raw"], catalog, st.session_state["dw_assumptions"])
except GroundworkError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

show_recommendation(result)
show_costs(result)
export_buttons(result)
