"""Groundwork: navigation only. Each page lives in pages/; no logic here."""
import streamlit as st

st.set_page_config(page_title="Groundwork", page_icon=":material/foundation:", layout="wide")

sections = {
    "Overview": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Analyst": [
        st.Page("pages/chat.py", title="Chat", icon=":material/forum:"),
    ],
    "Operator": [
        st.Page("pages/corpus_documents.py", title="Documents", icon=":material/table_view:"),
        st.Page("pages/corpus_upload.py", title="Upload", icon=":material/upload_file:"),
        st.Page("pages/corpus_search.py", title="Search explorer", icon=":material/manage_search:"),
        st.Page("pages/corpus_overview.py", title="Corpus overview", icon=":material/insights:"),
        st.Page("pages/corpus_collections.py", title="Collections", icon=":material/folder_copy:"),
        st.Page("pages/operations.py", title="Operations", icon=":material/monitoring:"),
        st.Page("pages/trace_explorer.py", title="Trace explorer", icon=":material/timeline:"),
        st.Page("pages/drift.py", title="Drift", icon=":material/trending_up:"),
        st.Page("pages/evaluation.py", title="Evaluation leaderboard", icon=":material/leaderboard:"),
        st.Page("pages/eval_runs.py", title="Experiments", icon=":material/science:"),
    ],
    "Stakeholder": [
        st.Page("pages/cost_explorer.py", title="Cost explorer", icon=":material/payments:"),
        st.Page("pages/capacity_planner.py", title="Capacity planner", icon=":material/dns:"),
        st.Page("pages/decision_wizard.py", title="RAG or fine-tuning?", icon=":material/alt_route:"),
    ],
}
navigation = st.navigation({name: pages for name, pages in sections.items() if pages})
navigation.run()
