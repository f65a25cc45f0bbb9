"""Capacity planning from peak QPS, a p95 latency SLO and a monthly cost ceiling: replicas, latency budget, binding constraint."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from backend.economics.catalog import Gpu, Reranker
from backend.economics.cost_model import HOURS_PER_MONTH, usd
from backend.models import InputError

# The highest cache hit rate the planner offers as a way out (and the highest its pages take as input).
MAX_CACHE_HIT_RATE = 0.95
STAGES = ("embed", "search", "rerank", "other", "prefill", "decode")
# Words in traced span names that map onto the planner's stages (names differ between pipelines).
_STAGE_KEYWORDS = {
    "embed": ("embed",),
    "search": ("search", "retriev", "bm25", "dense", "faiss", "fuse", "fusion", "lexical"),
    "rerank": ("rerank", "mmr", "cross"),
    # the rest of the hot path before generation: PII redaction, follow-up rewriting, cache lookup, compression
    "other": ("redact", "contextual", "cache", "compress", "memory"),
}


@dataclass(frozen=True)
class StageLatency:
    stage: str
    ms: float
    source: str  # "measured p95 (N spans)", "assumed", "modelled from <gpu>"


def measured_stage_p95(stage_summary) -> dict[str, StageLatency]:
    """p95 per planner stage from a stage summary (DataFrame or records with stage, count, p95_ms).

    Several traced stages feeding one planner stage (bm25 + dense + fuse) add up, since they run in sequence.
    """
    if stage_summary is None:
        return {}
    records = stage_summary.to_dict("records") if hasattr(stage_summary, "to_dict") else list(stage_summary)
    found: dict[str, list[tuple[float, int]]] = {}
    for record in records:
        name = str(record.get("stage", "")).lower()
        p95 = record.get("p95_ms")
        count = int(record.get("count") or 0)
        if p95 is None or count <= 0 or not math.isfinite(float(p95)):
            continue
        for stage, words in _STAGE_KEYWORDS.items():
            if any(word in name for word in words):
                found.setdefault(stage, []).append((float(p95), count))
                break
    return {
        stage: StageLatency(stage, sum(p for p, _ in parts), f"measured p95 ({max(c for _, c in parts):,} spans)")
        for stage, parts in found.items()
    }


@dataclass
class CapacityInputs:
    peak_qps: float
    slo_p95_ms: float
    cost_ceiling_usd: float
    gpu: Gpu
    tokens_in: float
    tokens_out: float
    gpus_available: int = 8
    utilisation: float = 0.7  # the target peak utilisation; 1 - this is the headroom
    cache_hit_rate: float = 0.0
    embed_ms: float = 8.0
    search_ms: float = 30.0
    reranker: Reranker | None = None
    rerank_candidates: int = 50
    other_monthly_usd: float = 0.0  # vector DB, embeddings: counted against the ceiling too
    measured: dict[str, StageLatency] = field(default_factory=dict)

    def validate(self) -> None:
        checks = [
            ("peak QPS", self.peak_qps, self.peak_qps > 0 and self.peak_qps <= 1e6),
            ("p95 latency SLO", self.slo_p95_ms, 0 < self.slo_p95_ms <= 3_600_000),
            ("monthly cost ceiling", self.cost_ceiling_usd, 0 < self.cost_ceiling_usd <= 1e9),
            ("input tokens", self.tokens_in, 0 <= self.tokens_in <= 1e7),
            ("output tokens", self.tokens_out, 0 <= self.tokens_out <= 1e7),
            ("GPUs available", self.gpus_available, 1 <= self.gpus_available <= 100_000),
            ("utilisation target", self.utilisation, 0 < self.utilisation <= 1),
            ("cache hit rate", self.cache_hit_rate, 0 <= self.cache_hit_rate < 1),
            ("embed latency", self.embed_ms, self.embed_ms >= 0),
            ("search latency", self.search_ms, self.search_ms >= 0),
            ("rerank candidates", self.rerank_candidates, self.rerank_candidates >= 0),
            ("other monthly costs", self.other_monthly_usd, self.other_monthly_usd >= 0),
        ]
        for name, value, ok in checks:
            if value is None or (isinstance(value, float) and math.isnan(value)) or not ok:
                raise InputError(f"{name}: {value} is out of range")


@dataclass
class Constraint:
    name: str  # "latency SLO", "cost ceiling", "throughput"
    used: float
    limit: float
    ratio: float
    relax: list[str]


@dataclass
class CapacityPlan:
    llm_qps: float
    latency: list[StageLatency]
    total_latency_ms: float
    concurrency: float
    replicas_for_concurrency: int
    replicas_for_throughput: int
    replicas: int
    replicas_driver: str
    per_replica_qps: float
    gpu_month_usd: float
    monthly_cost_usd: float
    reranker_fits: bool | None
    rerank_max_candidates: int | None
    constraints: list[Constraint]
    binding: Constraint
    feasible: bool
    formulas: dict[str, str]


def plan_capacity(inputs: CapacityInputs) -> CapacityPlan:
    inputs.validate()
    gpu = inputs.gpu
    llm_qps = inputs.peak_qps * (1 - inputs.cache_hit_rate)
    prefill_ms = inputs.tokens_in / gpu.prefill_tokens_per_s * 1000
    decode_ms = inputs.tokens_out / gpu.stream_decode_tokens_per_s * 1000
    rerank_ms = (inputs.reranker.latency_ms_base + inputs.rerank_candidates * inputs.reranker.latency_ms_per_candidate
                 if inputs.reranker else 0.0)
    assumed = {"embed": inputs.embed_ms, "search": inputs.search_ms, "rerank": rerank_ms}
    latency = []
    for stage in ("embed", "search", "rerank"):
        if stage == "rerank" and inputs.reranker is None:
            continue
        measured = inputs.measured.get(stage)
        latency.append(measured if measured else StageLatency(stage, assumed[stage], "assumed"))
    rerank_ms = sum(item.ms for item in latency if item.stage == "rerank")
    if "other" in inputs.measured:
        latency.append(inputs.measured["other"])
    latency.append(StageLatency("prefill", prefill_ms, f"modelled from {gpu.name}"))
    latency.append(StageLatency("decode", decode_ms, f"modelled from {gpu.name}"))
    total_ms = sum(item.ms for item in latency)

    # Little's law: requests in flight = arrival rate x time each spends on the GPU.
    llm_seconds = (prefill_ms + decode_ms) / 1000
    concurrency = llm_qps * llm_seconds
    slots = gpu.max_concurrency * inputs.utilisation
    replicas_concurrency = math.ceil(concurrency / slots - 1e-9)
    # Throughput: GPU-seconds of prefill and of batched decode demanded per second.
    prefill_load = llm_qps * inputs.tokens_in / gpu.prefill_tokens_per_s
    decode_load = llm_qps * inputs.tokens_out / gpu.decode_tokens_per_s
    replicas_throughput = math.ceil((prefill_load + decode_load) / inputs.utilisation - 1e-9)
    replicas = max(1, replicas_concurrency, replicas_throughput)
    driver = "concurrency (Little's law)" if replicas_concurrency >= replicas_throughput else "token throughput"
    per_replica_qps = _per_replica_qps(inputs, llm_seconds)

    gpu_month = gpu.hourly_usd * HOURS_PER_MONTH
    monthly = replicas * gpu_month + inputs.other_monthly_usd

    reranker_fits = max_candidates = None
    if inputs.reranker is not None:
        without = total_ms - rerank_ms
        reranker_fits = total_ms <= inputs.slo_p95_ms
        room = inputs.slo_p95_ms - without - inputs.reranker.latency_ms_base
        per_candidate = inputs.reranker.latency_ms_per_candidate
        if room < 0:
            max_candidates = 0
        else:
            max_candidates = inputs.rerank_candidates * 10 if per_candidate == 0 else int(room // per_candidate)

    constraints = [
        Constraint("latency SLO", total_ms, inputs.slo_p95_ms, total_ms / inputs.slo_p95_ms,
                   _relax_latency(inputs, latency, rerank_ms)),
        Constraint("cost ceiling", monthly, inputs.cost_ceiling_usd, monthly / inputs.cost_ceiling_usd,
                   _relax_cost(inputs, replicas, gpu_month, per_replica_qps)),
        Constraint("throughput", replicas, inputs.gpus_available, replicas / inputs.gpus_available,
                   _relax_throughput(inputs, replicas, per_replica_qps)),
    ]
    binding = max(constraints, key=lambda c: c.ratio)
    formulas = {
        "uncached QPS": f"{inputs.peak_qps:,.2f} peak QPS x (1 - {inputs.cache_hit_rate:.0%} cache hits) = {llm_qps:,.2f}",
        "prefill": f"{inputs.tokens_in:,.0f} tokens / {gpu.prefill_tokens_per_s:,.0f} tok/s = {prefill_ms:,.0f} ms",
        "decode": f"{inputs.tokens_out:,.0f} tokens / {gpu.stream_decode_tokens_per_s:,.0f} tok/s per stream = {decode_ms:,.0f} ms",
        "concurrency": f"Little's law: {llm_qps:,.2f} req/s x {llm_seconds:,.3f} s = {concurrency:,.1f} requests in flight",
        "replicas for concurrency": f"ceil({concurrency:,.1f} / ({gpu.max_concurrency} slots x {inputs.utilisation:.0%})) = {replicas_concurrency}",
        "replicas for throughput": (f"ceil(({llm_qps:,.2f} x {inputs.tokens_in:,.0f} / {gpu.prefill_tokens_per_s:,.0f} + "
                                    f"{llm_qps:,.2f} x {inputs.tokens_out:,.0f} / {gpu.decode_tokens_per_s:,.0f}) / "
                                    f"{inputs.utilisation:.0%}) = {replicas_throughput}"),
        "replicas": f"max(1, {replicas_concurrency}, {replicas_throughput}) = {replicas}",
        "monthly cost": (f"{replicas} x ${gpu.hourly_usd:,.2f}/h x {HOURS_PER_MONTH} h + {usd(inputs.other_monthly_usd)} other"
                         f" = {usd(monthly)}"),
        "p95 latency": " + ".join(f"{item.stage} {item.ms:,.0f}" for item in latency) + f" = {total_ms:,.0f} ms",
    }
    return CapacityPlan(llm_qps, latency, total_ms, concurrency, replicas_concurrency, replicas_throughput, replicas,
                        driver, per_replica_qps, gpu_month, monthly, reranker_fits, max_candidates, constraints,
                        binding, all(c.ratio <= 1 for c in constraints), formulas)


def _per_replica_qps(inputs: CapacityInputs, llm_seconds: float) -> float:
    """Uncached requests per second one replica takes at the utilisation target: the tighter of slots and tokens."""
    gpu = inputs.gpu
    by_slots = math.inf if llm_seconds == 0 else gpu.max_concurrency * inputs.utilisation / llm_seconds
    work = inputs.tokens_in / gpu.prefill_tokens_per_s + inputs.tokens_out / gpu.decode_tokens_per_s
    by_tokens = math.inf if work == 0 else inputs.utilisation / work
    return min(by_slots, by_tokens)


def _hit_rate_needed(inputs: CapacityInputs, max_llm_qps: float) -> str | None:
    needed = 1 - max_llm_qps / inputs.peak_qps
    # past what a semantic cache realistically serves (the pages cap the input there too) it is no way out
    if needed <= inputs.cache_hit_rate or needed > MAX_CACHE_HIT_RATE:
        return None
    return f"raise the cache hit rate to {needed:.0%}"


def _relax_latency(inputs: CapacityInputs, latency: list[StageLatency], rerank_ms: float) -> list[str]:
    by_stage = {item.stage: item.ms for item in latency}
    others = sum(ms for stage, ms in by_stage.items() if stage != "decode")
    room_ms = inputs.slo_p95_ms - others
    options = []
    if room_ms > 0:
        max_out = int(room_ms / 1000 * inputs.gpu.stream_decode_tokens_per_s)
        options.append(f"keep answers at or below {max_out:,} output tokens (decode runs at {inputs.gpu.stream_decode_tokens_per_s:,.0f} tok/s per stream)")
    options.append("a GPU with faster per-stream decode, or a smaller/quantised model")
    if inputs.reranker is not None:
        options.append(f"drop the reranker or score fewer candidates (it takes {rerank_ms:,.0f} ms)")
    options.append("stream tokens, so the SLO applies to the first token rather than the last")
    total = sum(by_stage.values())
    if total > inputs.slo_p95_ms:
        options.append(f"loosen the SLO to {total:,.0f} ms")
    return options


def _relax_cost(inputs: CapacityInputs, replicas: int, gpu_month: float, per_replica_qps: float) -> list[str]:
    affordable = math.floor((inputs.cost_ceiling_usd - inputs.other_monthly_usd) / gpu_month) if gpu_month else replicas
    needed = replicas * gpu_month + inputs.other_monthly_usd
    options = [f"raise the ceiling to {usd(needed)} a month"] if needed > inputs.cost_ceiling_usd else []
    if affordable >= 1:
        max_qps = affordable * per_replica_qps / (1 - inputs.cache_hit_rate)
        options.append(f"keep peak load at or below {max_qps:,.1f} QPS ({affordable:,} affordable GPUs)")
        hit = _hit_rate_needed(inputs, affordable * per_replica_qps)
        if hit:
            options.append(hit)
    options.append("fewer tokens per request (smaller k or chunks, shorter answers), a cheaper GPU, or an API model")
    return options


def _relax_throughput(inputs: CapacityInputs, replicas: int, per_replica_qps: float) -> list[str]:
    max_qps = inputs.gpus_available * per_replica_qps / (1 - inputs.cache_hit_rate)
    options = [f"get {replicas:,} GPUs (have {inputs.gpus_available:,})"] if replicas > inputs.gpus_available else []
    options.append(f"keep peak load at or below {max_qps:,.1f} QPS")
    hit = _hit_rate_needed(inputs, inputs.gpus_available * per_replica_qps)
    if hit:
        options.append(hit)
    if inputs.utilisation < 0.9:
        options.append(f"run GPUs hotter than {inputs.utilisation:.0%} (less headroom for bursts)")
    options.append("a GPU with more tokens/s, or fewer tokens per request")
    return options
