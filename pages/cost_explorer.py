"""Cost and latency explorer: cost per request and per month, API against self-hosted vLLM, break-even, cache savings."""
import pandas as pd
import streamlit as st

from backend.economics.cost_model import (
    RequestProfile,
    break_even_volume,
    cache_savings,
    compact,
    cost_curves,
    llm_cost_per_request,
    monthly_api_cost,
    monthly_selfhosted_cost,
    usd,
    volume_grid,
)
from backend.models import GroundworkError
from components.econ_catalog_editor import catalog_editor
from components.econ_charts import cost_stack_figure, volume_cost_figure
from components.econ_common import (
    catalog_or_stop,
    catalog_path,
    cost_table,
    measured_figures,
    profile_with_measured,
    show_formulas,
    usd_tile,
)
from components.navigation import page_context

identity, ctx = page_context(__file__)

st.title("Cost explorer")
st.caption("What one request costs, what a month costs at your volume, and the volume where self-hosting breaks even.")

catalog = catalog_or_stop()
measured = measured_figures(ctx)
explore_tab, catalog_tab = st.tabs(["Explore", "Pricing catalog"])

with catalog_tab:
    catalog_editor(catalog, catalog_path())

with explore_tab:
    with st.container(border=True):
        st.markdown("**What is priced**")
        c1, c2, c3, c4 = st.columns(4)
        llm = catalog.find("llm_apis", c1.selectbox("LLM API", catalog.names("llm_apis"), key="ce_llm"))
        gpu = catalog.find("gpus", c2.selectbox("Self-hosted GPU (vLLM)", catalog.names("gpus"), key="ce_gpu"))
        embedding = catalog.find("embedding_apis", c3.selectbox("Embeddings", catalog.names("embedding_apis"), key="ce_emb"))
        vector_db = catalog.find("vector_dbs", c4.selectbox("Vector database", catalog.names("vector_dbs"), key="ce_db"))
        c1, c2, c3, c4 = st.columns(4)
        volume = c1.number_input("Queries per month", min_value=0, max_value=10_000_000_000, value=100_000, step=10_000,
                                 key="ce_volume")
        reranker_name = c2.selectbox("Reranker", ["none"] + catalog.names("rerankers"), key="ce_reranker")
        reranker = None if reranker_name == "none" else catalog.find("rerankers", reranker_name)
        utilisation = c3.slider("GPU utilisation target", 10, 100, 60, 5, format="%d%%", key="ce_util",
                                help="Average load a self-hosted GPU is sized for; the rest is headroom.") / 100
        use_measured = c4.toggle(f"Measured ({measured.requests:,} requests)", value=measured.requests > 0,
                                 disabled=measured.requests == 0, key="ce_measured",
                                 help="Mean tokens in/out and cache hit rate from the last 7 days of traces.")

    with st.expander("Request profile (assumed when no traces are used)", expanded=not use_measured):
        c1, c2, c3, c4, c5 = st.columns(5)
        question_tokens = c1.number_input("Question tokens", 0, 100_000, 50, key="ce_q")
        prompt_tokens = c2.number_input("Prompt template tokens", 0, 100_000, 150, key="ce_p")
        top_k = c3.number_input("k (chunks)", 0, 200, 5, key="ce_k")
        chunk_tokens = c4.number_input("Tokens per chunk", 0, 10_000, 160, key="ce_chunk")
        output_tokens = c5.number_input("Output tokens", 0, 100_000, 200, key="ce_out")
        assumed_hit = st.slider("Cache hit rate", 0, 95, 0, 5, format="%d%%", key="ce_hit") / 100

    typed = RequestProfile.from_parts(question_tokens, prompt_tokens, top_k, chunk_tokens, output_tokens)
    profile, cache_hit = profile_with_measured(typed, assumed_hit, use_measured, measured)

    try:
        api = monthly_api_cost(volume, profile, llm, embedding, vector_db, reranker, cache_hit)
        hosted = monthly_selfhosted_cost(volume, profile, gpu, embedding, vector_db, reranker, cache_hit, utilisation)
        even = break_even_volume(profile, llm, gpu, utilisation, cache_hit)
        saved = cache_savings(volume, profile, llm, cache_hit, reranker)
        curves = cost_curves(volume_grid(volume), profile, catalog.llm_apis, catalog.gpus, embedding, vector_db,
                             reranker, cache_hit, utilisation)
    except GroundworkError as exc:
        st.error(str(exc))
        st.stop()

    per_request = llm_cost_per_request(profile, llm)
    per_request_formula = (f"{profile.tokens_in:,.0f} in x ${llm.input_per_m:,.2f}/1M + {profile.tokens_out:,.0f} out x "
                           f"${llm.output_per_m:,.2f}/1M = {usd(per_request)}")
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric("LLM cost per request", usd(per_request), help=per_request_formula, border=True)
    m2.metric("Monthly on the API", usd_tile(api.total), help=" + ".join(usd(line.usd) for line in api.lines)
              + f" = {usd(api.total)}", border=True)
    m3.metric("Monthly self-hosted", usd_tile(hosted.total), help=f"{hosted.lines[0].formula}; in all {usd(hosted.total)}",
              border=True)
    m4.metric("Break-even volume", f"{compact(even.sustained_volume)}/mo" if even.sustained_volume else "never",
              help=even.formula, border=True)
    m5.metric("Cache savings", usd_tile(saved.usd), help=saved.formula, border=True)
    st.caption(f"Input tokens per request: {profile.tokens_in_formula}. Cache hit rate {cache_hit:.0%}.")
    if use_measured and (measured.tokens or {}).get("cost_mean_usd"):
        st.caption(f"Traced requests recorded {usd(measured.tokens['cost_mean_usd'])} each on average "
                   "(priced by the running generator's settings).")

    cheaper = "self-hosting" if hosted.total < api.total else "the API"
    st.markdown(f"At **{volume:,} queries a month**, {cheaper} is cheaper "
                f"({usd(api.total)} on {llm.name} vs {usd(hosted.total)} on {gpu.name}).")
    st.plotly_chart(volume_cost_figure(curves, volume, even.sustained_volume), key="ce_curves")
    if volume == 0:
        st.caption("At 0 queries a month there is no *your volume* line: the log axis has no zero. "
                   "Enter a volume to see where you sit on the curves.")
    st.plotly_chart(cost_stack_figure({f"API: {llm.name}": api, f"vLLM: {gpu.name}": hosted},
                                      "Where a month's money goes"), key="ce_stack")

    show_formulas(api.lines + hosted.lines + [saved], "Formulas behind every figure")
    with st.expander("Tables", icon=":material/table:"):
        st.markdown("**API**")
        st.dataframe(cost_table(api.lines), hide_index=True)
        st.markdown("**Self-hosted**")
        st.dataframe(cost_table(hosted.lines), hide_index=True)
        st.markdown("**Cost curves**")
        curve_table = pd.DataFrame(curves).pivot_table(index="queries_per_month", columns="option", values="monthly_usd")
        st.dataframe(curve_table.round(2))
