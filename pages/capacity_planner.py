"""Capacity planner: GPU replicas, latency budget and the binding constraint from peak QPS, a p95 SLO and a cost ceiling."""
import streamlit as st

from backend.economics.capacity import CapacityInputs, measured_stage_p95, plan_capacity
from backend.economics.cost_model import RequestProfile, usd
from backend.models import GroundworkError
from components.econ_charts import constraint_figure, latency_budget_figure
from components.econ_common import (
    catalog_or_stop,
    measured_figures,
    profile_with_measured,
    share_of_limit,
    show_formulas,
    usd_tile,
)
from components.navigation import page_context

identity, ctx = page_context(__file__)

st.title("Capacity planner")
st.caption("Design backwards from three numbers: peak QPS, the p95 latency SLO and the monthly cost ceiling.")

catalog = catalog_or_stop()
measured = measured_figures(ctx)
stage_p95 = measured_stage_p95(measured.stages)

with st.container(border=True):
    st.markdown("**The three numbers**")
    c1, c2, c3 = st.columns(3)
    peak_qps = c1.number_input("Peak QPS", min_value=0.01, max_value=1_000_000.0, value=10.0, step=1.0, key="cp_qps")
    slo_ms = c2.number_input("p95 latency SLO (ms)", min_value=10, max_value=600_000, value=6_000, step=100, key="cp_slo")
    ceiling = c3.number_input("Monthly cost ceiling (USD)", min_value=1, max_value=1_000_000_000, value=5_000, step=500,
                              key="cp_ceiling")

with st.container(border=True):
    st.markdown("**The serving stack**")
    c1, c2, c3, c4 = st.columns(4)
    gpu = catalog.find("gpus", c1.selectbox("GPU (vLLM)", catalog.names("gpus"), key="cp_gpu"))
    gpus_available = c2.number_input("GPUs available", 1, 100_000, 8, key="cp_gpus",
                                     help="Quota or budgeted fleet: the throughput limit.")
    utilisation = c3.slider("Utilisation target", 10, 100, 70, 5, format="%d%%", key="cp_util",
                            help="Peak load a replica is sized for; the rest is headroom for bursts.") / 100
    vector_db = catalog.find("vector_dbs", c4.selectbox("Vector database", catalog.names("vector_dbs"), key="cp_db"))
    c1, c2, c3, c4 = st.columns(4)
    reranker_name = c1.selectbox("Reranker", ["none"] + catalog.names("rerankers"), key="cp_reranker")
    reranker = None if reranker_name == "none" else catalog.find("rerankers", reranker_name)
    candidates = c2.number_input("Rerank candidates", 0, 10_000, 50, key="cp_candidates", disabled=reranker is None)
    embed_ms = c3.number_input("Embed p95 (ms), assumed", 0.0, 60_000.0, 8.0, key="cp_embed",
                               help="~8 ms local MiniLM on 2 cores; 20-50 ms on an API.")
    search_ms = c4.number_input("Search p95 (ms), assumed", 0.0, 60_000.0, 30.0, key="cp_search",
                                help="Vector search 10-50 ms plus fetch 5-20 ms.")
    use_measured = st.toggle(f"Use measured figures from traces ({measured.requests:,} requests)",
                             value=measured.requests > 0 or bool(stage_p95), disabled=not (measured.requests or stage_p95),
                             key="cp_measured", help="Token means, cache hit rate and stage p95 from the last 7 days of traces.")

with st.expander("Tokens per request", expanded=not use_measured):
    c1, c2, c3 = st.columns(3)
    tokens_in = c1.number_input("Input tokens (question + prompt + k x chunk)", 0, 1_000_000, 1_000, key="cp_in")
    tokens_out = c2.number_input("Output tokens", 0, 1_000_000, 200, key="cp_out")
    assumed_hit = c3.slider("Cache hit rate", 0, 95, 0, 5, format="%d%%", key="cp_hit") / 100

profile, cache_hit = profile_with_measured(RequestProfile(tokens_in, tokens_out), assumed_hit, use_measured, measured)

try:
    plan = plan_capacity(CapacityInputs(
        peak_qps=peak_qps, slo_p95_ms=slo_ms, cost_ceiling_usd=ceiling, gpu=gpu, tokens_in=profile.tokens_in,
        tokens_out=profile.tokens_out, gpus_available=gpus_available, utilisation=utilisation, cache_hit_rate=cache_hit,
        embed_ms=embed_ms, search_ms=search_ms, reranker=reranker, rerank_candidates=candidates,
        other_monthly_usd=vector_db.monthly_usd, measured=stage_p95 if use_measured else {},
    ))
except GroundworkError as exc:
    st.error(str(exc))
    st.stop()

binding = plan.binding
relax = "\n".join(f"- {option}" for option in binding.relax)
if plan.feasible:
    st.success(f"**The plan fits.** Tightest constraint: **{binding.name}** at {share_of_limit(binding.ratio)} of its limit. "
               f"What would relax it:\n{relax}", icon=":material/check_circle:")
else:
    st.warning(f"**The plan does not fit: the {binding.name} binds** ({share_of_limit(binding.ratio)} of its limit). "
             f"What would relax it:\n{relax}", icon=":material/block:")

m1, m2, m3, m4 = st.columns(4)
m1.metric("GPU replicas", f"{plan.replicas:,}", help=plan.formulas["replicas"], border=True)
m2.metric("Requests in flight at peak", f"{plan.concurrency:,.1f}", help=plan.formulas["concurrency"], border=True)
m3.metric("Monthly cost", usd_tile(plan.monthly_cost_usd), help=f"{plan.formulas['monthly cost']} ({usd(plan.monthly_cost_usd)})",
          border=True)
m4.metric("p95 latency", f"{plan.total_latency_ms:,.0f} ms", help=plan.formulas["p95 latency"], border=True)
st.caption(f"Replicas are set by {plan.replicas_driver}: {plan.replicas_for_concurrency:,} for concurrency, "
           f"{plan.replicas_for_throughput:,} for token throughput; one replica takes {plan.per_replica_qps:,.2f} "
           f"uncached QPS at {utilisation:.0%}.")

if reranker is not None:
    if plan.reranker_fits:
        st.info(f"The reranker fits the latency budget (up to {plan.rerank_max_candidates:,} candidates would).",
                icon=":material/sort:")
    else:
        st.warning(f"The reranker does not fit the latency budget: at most {plan.rerank_max_candidates:,} candidates "
                   "would, before the SLO is spent.", icon=":material/sort:")

left, right = st.columns([3, 2])
left.plotly_chart(latency_budget_figure(plan.latency, slo_ms), key="cp_latency")
right.plotly_chart(constraint_figure(plan.constraints), key="cp_constraints")
show_formulas(plan.formulas, "Formulas behind every figure")
with st.expander("Tables", icon=":material/table:"):
    st.dataframe([{"stage": s.stage, "p95 ms": round(s.ms, 1), "source": s.source} for s in plan.latency], hide_index=True)
    st.dataframe([{"constraint": c.name, "used": round(c.used, 2), "limit": c.limit, "share": share_of_limit(c.ratio)}
                  for c in plan.constraints], hide_index=True)
