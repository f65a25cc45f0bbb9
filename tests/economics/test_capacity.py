"""Capacity planner against a hand-computed case, and each constraint binding when it should."""
import datetime as dt

import pandas as pd
import pytest

from backend.economics.capacity import CapacityInputs, measured_stage_p95, plan_capacity
from backend.economics.catalog import Gpu, Reranker
from backend.models import InputError

ROW = {"source": "test", "date": dt.date(2026, 1, 1)}
GPU = Gpu(name="gpu", hourly_usd=1.0, prefill_tokens_per_s=5000, decode_tokens_per_s=1000,
          stream_decode_tokens_per_s=50, max_concurrency=16, **ROW)
RERANKER = Reranker(name="ce", per_1k_requests_usd=0, latency_ms_base=5, latency_ms_per_candidate=3, **ROW)


def inputs(**changes) -> CapacityInputs:
    base = dict(peak_qps=10, slo_p95_ms=6000, cost_ceiling_usd=10_000, gpu=GPU, tokens_in=1000, tokens_out=200,
                gpus_available=8, utilisation=0.5, cache_hit_rate=0.0, embed_ms=8, search_ms=30)
    return CapacityInputs(**{**base, **changes})


def test_hand_computed_plan():
    plan = plan_capacity(inputs())
    by_stage = {s.stage: s.ms for s in plan.latency}
    # prefill 1,000 / 5,000 tok/s = 200 ms; decode 200 / 50 tok/s per stream = 4,000 ms
    assert by_stage == {"embed": 8, "search": 30, "prefill": pytest.approx(200), "decode": pytest.approx(4000)}
    assert plan.total_latency_ms == pytest.approx(4238)
    # Little's law: 10 req/s x 4.2 s = 42 in flight; 16 slots x 50% = 8 per GPU -> ceil(5.25) = 6
    assert plan.concurrency == pytest.approx(42)
    assert plan.replicas_for_concurrency == 6
    # tokens: 10 x (1,000/5,000 + 200/1,000) = 4 GPU-seconds per second; / 50% -> 8
    assert plan.replicas_for_throughput == 8
    assert (plan.replicas, plan.replicas_driver) == (8, "token throughput")
    assert plan.monthly_cost_usd == pytest.approx(8 * 730)
    assert plan.per_replica_qps == pytest.approx(1.25)
    ratios = {c.name: c.ratio for c in plan.constraints}
    assert ratios == {"latency SLO": pytest.approx(4238 / 6000), "cost ceiling": pytest.approx(5840 / 10_000),
                      "throughput": pytest.approx(1.0)}
    assert plan.feasible and plan.binding.name == "throughput"
    assert plan.formulas["replicas"] == "max(1, 6, 8) = 8"


def test_cache_hits_take_load_off_the_gpus():
    plan = plan_capacity(inputs(cache_hit_rate=0.5))
    assert plan.llm_qps == pytest.approx(5)
    assert (plan.replicas_for_concurrency, plan.replicas_for_throughput) == (3, 4)  # ceil(21/8), ceil(2/0.5)


def test_too_few_gpus_binds_throughput():
    plan = plan_capacity(inputs(gpus_available=7))
    assert not plan.feasible and plan.binding.name == "throughput"
    assert plan.binding.relax[0] == "get 8 GPUs (have 7)"
    assert "keep peak load at or below 8.8 QPS" in plan.binding.relax  # 7 x 1.25


def test_a_low_ceiling_binds_cost_and_says_what_relaxes_it():
    plan = plan_capacity(inputs(cost_ceiling_usd=5000))
    assert not plan.feasible and plan.binding.name == "cost ceiling"
    relax = plan.binding.relax
    assert relax[0] == "raise the ceiling to $5,840 a month"
    assert "keep peak load at or below 7.5 QPS (6 affordable GPUs)" in relax  # floor(5,000 / 730) = 6 x 1.25
    assert "raise the cache hit rate to 25%" in relax


def test_an_extreme_peak_never_suggests_an_unreachable_cache_hit_rate():
    plan = plan_capacity(inputs(peak_qps=1_000_000))
    relax = plan.binding.relax
    assert relax[0] == "get 800,000 GPUs (have 8)"  # 1e6 QPS / 1.25 per replica
    assert not any("cache hit rate" in option for option in relax)  # 99.999% is no way out
    # a need within reach is still offered: 8 GPUs take 10 QPS, so 12 QPS needs 17% of it from the cache
    assert "raise the cache hit rate to 17%" in plan_capacity(inputs(peak_qps=12)).binding.relax


def test_a_tight_slo_binds_latency():
    plan = plan_capacity(inputs(slo_p95_ms=4000))
    assert not plan.feasible and plan.binding.name == "latency SLO"
    # room for decode: 4,000 - 238 = 3,762 ms x 50 tok/s = 188 tokens
    assert plan.binding.relax[0].startswith("keep answers at or below 188 output tokens")
    assert "loosen the SLO to 4,238 ms" in plan.binding.relax


def test_reranker_fits_or_not():
    fits = plan_capacity(inputs(reranker=RERANKER, rerank_candidates=50))
    assert {s.stage: s.ms for s in fits.latency}["rerank"] == pytest.approx(155)  # 5 + 50 x 3
    assert fits.reranker_fits is True
    tight = plan_capacity(inputs(reranker=RERANKER, rerank_candidates=50, slo_p95_ms=4300))
    assert tight.reranker_fits is False
    assert tight.rerank_max_candidates == 19  # (4,300 - 4,238 - 5) // 3
    assert plan_capacity(inputs()).reranker_fits is None


def test_measured_stage_latencies_replace_assumed_ones():
    summary = pd.DataFrame([
        {"stage": "redact", "count": 40, "p50_ms": 1, "p95_ms": 2.0, "p99_ms": 3},
        {"stage": "cache_lookup", "count": 40, "p50_ms": 1, "p95_ms": 1.0, "p99_ms": 1},
        {"stage": "embed_query", "count": 40, "p50_ms": 9, "p95_ms": 12.0, "p99_ms": 15},
        {"stage": "bm25", "count": 40, "p50_ms": 5, "p95_ms": 10.0, "p99_ms": 12},
        {"stage": "dense", "count": 40, "p50_ms": 9, "p95_ms": 15.0, "p99_ms": 20},
        {"stage": "fuse", "count": 40, "p50_ms": 1, "p95_ms": 1.0, "p99_ms": 1},
        {"stage": "rerank", "count": 20, "p50_ms": 30, "p95_ms": 40.0, "p99_ms": 50},
        {"stage": "generate", "count": 40, "p50_ms": 300, "p95_ms": 500.0, "p99_ms": 900},
    ])
    measured = measured_stage_p95(summary)
    assert {k: v.ms for k, v in measured.items()} == {"embed": 12, "search": 26, "rerank": 40, "other": 3}
    assert measured["embed"].source == "measured p95 (40 spans)"
    plan = plan_capacity(inputs(reranker=RERANKER, measured=measured))
    assert [(s.stage, s.ms) for s in plan.latency][:4] == [("embed", 12), ("search", 26), ("rerank", 40), ("other", 3)]
    assert plan.latency[-1].source == "modelled from gpu"  # generation on a GPU is modelled, not the CPU trace
    assert measured_stage_p95(None) == {} and measured_stage_p95(summary.iloc[0:0]) == {}


@pytest.mark.parametrize("change, field", [
    ({"peak_qps": -1}, "peak QPS"), ({"slo_p95_ms": 0}, "p95 latency SLO"), ({"utilisation": 0}, "utilisation target"),
    ({"cache_hit_rate": 1.0}, "cache hit rate"), ({"cost_ceiling_usd": float("nan")}, "monthly cost ceiling"),
])
def test_bad_inputs_name_the_field(change, field):
    with pytest.raises(InputError, match=f"^{field}: "):
        plan_capacity(inputs(**change))
