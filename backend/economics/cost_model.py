"""Cost per request and per month for API and self-hosted serving, cache savings, and the break-even volume."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from backend.economics.catalog import EmbeddingApi, Gpu, LlmApi, Reranker, VectorDb
from backend.models import InputError

MILLION = 1_000_000
HOURS_PER_MONTH = 730  # 365 days x 24 h / 12
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


def usd(amount: float) -> str:
    """Dollars as people read them: cents below $100, whole dollars above."""
    if abs(amount) >= 100:
        return f"${amount:,.0f}"
    if abs(amount) >= 0.01 or amount == 0:
        return f"${amount:,.2f}"
    # fractions of a cent (cost per request): three significant digits, no trailing zeros
    decimals = 2 - math.floor(math.log10(abs(amount)))
    return f"${amount:.{decimals}f}".rstrip("0")


def compact(count: float) -> str:
    """Volumes in a tile: 129,778 -> 130k, 2,654,545 -> 2.65M."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= size:
            return f"{count / size:,.3g}{suffix}"
    return f"{count:,.0f}"


def per_m(price: float) -> str:
    return f"${price:,.2f}/1M"


@dataclass(frozen=True)
class CostLine:
    """One named cost with the arithmetic that produced it, written out."""

    name: str
    usd: float
    formula: str


@dataclass
class CostBreakdown:
    lines: list[CostLine] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def add(self, name: str, amount: float, formula: str) -> None:
        self.lines.append(CostLine(name, amount, formula))

    def as_dict(self) -> dict[str, float]:
        return {line.name: round(line.usd, 6) for line in self.lines}

    def get(self, name: str) -> float:
        return sum(line.usd for line in self.lines if line.name == name)


@dataclass(frozen=True)
class RequestProfile:
    """Tokens one request moves through the pipeline, and where the figures came from."""

    tokens_in: float
    tokens_out: float
    embed_tokens: float = 100
    rerank_candidates: int = 0
    provenance: str = "assumed"
    tokens_in_formula: str = ""

    def __post_init__(self):
        for name in ("tokens_in", "tokens_out", "embed_tokens", "rerank_candidates"):
            value = getattr(self, name)
            if value is None or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise InputError(f"{name.replace('_', ' ')}: {value} must be a number >= 0")

    @classmethod
    def from_parts(cls, question_tokens: int, prompt_tokens: int, k: int, chunk_tokens: int, output_tokens: int,
                   embed_tokens: int | None = None, rerank_candidates: int = 0) -> "RequestProfile":
        """Input tokens = question + prompt template + k retrieved chunks x chunk size."""
        for name, value in (("question tokens", question_tokens), ("prompt tokens", prompt_tokens),
                            ("k", k), ("chunk tokens", chunk_tokens), ("output tokens", output_tokens)):
            if value is None or value < 0:
                raise InputError(f"{name}: {value} must be a number >= 0")
        tokens_in = question_tokens + prompt_tokens + k * chunk_tokens
        formula = f"{question_tokens:,} question + {prompt_tokens:,} prompt + {k} x {chunk_tokens:,} chunk = {tokens_in:,} tokens"
        return cls(tokens_in, output_tokens, question_tokens if embed_tokens is None else embed_tokens,
                   rerank_candidates, "assumed", formula)

    def with_measured(self, token_summary: dict | None) -> "RequestProfile":
        """Measured mean tokens in/out replace the assumed ones when traces hold requests.

        A mean of zero (e.g. the extractive generator reports no output tokens) says nothing about an LLM,
        so that figure stays assumed and the label says so.
        """
        summary = token_summary or {}
        requests = int(summary.get("requests") or 0)
        tokens_in = _finite(summary.get("tokens_in_mean")) or None
        tokens_out = _finite(summary.get("tokens_out_mean")) or None
        if requests <= 0 or (tokens_in is None and tokens_out is None):
            return self
        kept = [name for name, value in (("input", tokens_in), ("output", tokens_out)) if value is None]
        label = f"measured ({requests:,} requests" + (f"; {' and '.join(kept)} tokens assumed" if kept else "") + ")"
        formula = (f"mean of {requests:,} traced requests = {tokens_in:,.0f} tokens" if tokens_in is not None
                   else self.tokens_in_formula)
        return replace(self, tokens_in=tokens_in if tokens_in is not None else self.tokens_in,
                       tokens_out=tokens_out if tokens_out is not None else self.tokens_out,
                       provenance=label, tokens_in_formula=formula)


def _finite(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def measured_cache_hit_rate(token_summary: dict | None) -> float | None:
    if not token_summary or int(token_summary.get("requests") or 0) <= 0:
        return None
    rate = _finite(token_summary.get("cache_hit_rate"))
    return rate if rate is not None and rate <= 1 else None


def _check_volume(monthly_queries: float) -> None:
    if monthly_queries is None or not math.isfinite(monthly_queries) or monthly_queries < 0:
        raise InputError(f"monthly queries: {monthly_queries} must be a number >= 0")


def _check_rate(rate: float, name: str = "cache hit rate") -> None:
    if rate is None or not 0 <= rate < 1:
        raise InputError(f"{name}: {rate} must be at least 0 and below 1")


def llm_cost_per_request(profile: RequestProfile, llm: LlmApi) -> float:
    return (profile.tokens_in * llm.input_per_m + profile.tokens_out * llm.output_per_m) / MILLION


def llm_token_lines(requests: float, tokens_in: float, tokens_out: float, price_in: float, price_out: float,
                    label: str = "LLM") -> list[CostLine]:
    """requests x tokens x price / 1M, for input and output separately."""
    cost_in = requests * tokens_in * price_in / MILLION
    cost_out = requests * tokens_out * price_out / MILLION
    return [
        CostLine(f"{label} input tokens", cost_in,
                 f"{requests:,.0f} requests x {tokens_in:,.0f} tokens x {per_m(price_in)} = {usd(cost_in)}"),
        CostLine(f"{label} output tokens", cost_out,
                 f"{requests:,.0f} requests x {tokens_out:,.0f} tokens x {per_m(price_out)} = {usd(cost_out)}"),
    ]


def shared_monthly_lines(monthly_queries: float, profile: RequestProfile, embedding: EmbeddingApi, vector_db: VectorDb,
                         reranker: Reranker | None = None, cache_hit_rate: float = 0.0) -> list[CostLine]:
    """Costs that do not depend on who serves the LLM: query embeddings, reranking, the vector database."""
    _check_volume(monthly_queries)
    _check_rate(cache_hit_rate)
    # Every query is embedded (the semantic cache needs the vector); cache hits skip reranking and the LLM.
    embed = monthly_queries * profile.embed_tokens * embedding.per_m / MILLION
    lines = [CostLine("query embeddings", embed,
                      f"{monthly_queries:,.0f} queries x {profile.embed_tokens:,.0f} tokens x {per_m(embedding.per_m)} = {usd(embed)}")]
    if reranker is not None:
        misses = monthly_queries * (1 - cache_hit_rate)
        rerank = misses * reranker.per_1k_requests_usd / 1000
        lines.append(CostLine("reranker", rerank,
                              f"{misses:,.0f} uncached queries x ${reranker.per_1k_requests_usd:,.2f}/1k = {usd(rerank)}"))
    lines.append(CostLine("vector database", vector_db.monthly_usd, f"{vector_db.name}: {usd(vector_db.monthly_usd)}/month"))
    return lines


def monthly_api_cost(monthly_queries: float, profile: RequestProfile, llm: LlmApi, embedding: EmbeddingApi,
                     vector_db: VectorDb, reranker: Reranker | None = None, cache_hit_rate: float = 0.0) -> CostBreakdown:
    """Monthly cost of RAG with the generator on a per-token API."""
    shared = shared_monthly_lines(monthly_queries, profile, embedding, vector_db, reranker, cache_hit_rate)
    misses = monthly_queries * (1 - cache_hit_rate)
    lines = llm_token_lines(misses, profile.tokens_in, profile.tokens_out, llm.input_per_m, llm.output_per_m)
    return CostBreakdown(lines + shared)


def gpu_requests_per_second(gpu: Gpu, tokens_in: float, tokens_out: float) -> float:
    """Requests one GPU finishes per second at full load: 1 / (prefill seconds + batched decode seconds)."""
    seconds = tokens_in / gpu.prefill_tokens_per_s + tokens_out / gpu.decode_tokens_per_s
    return math.inf if seconds == 0 else 1 / seconds


def monthly_gpu_capacity(gpu: Gpu, profile: RequestProfile, utilisation: float) -> float:
    """LLM requests one GPU serves in a month at the target utilisation."""
    return gpu_requests_per_second(gpu, profile.tokens_in, profile.tokens_out) * utilisation * SECONDS_PER_MONTH


def monthly_selfhosted_cost(monthly_queries: float, profile: RequestProfile, gpu: Gpu, embedding: EmbeddingApi,
                            vector_db: VectorDb, reranker: Reranker | None = None, cache_hit_rate: float = 0.0,
                            utilisation: float = 0.6) -> CostBreakdown:
    """Monthly cost of RAG with vLLM on rented GPUs, sized for the average load (the planner sizes for peak)."""
    if not 0 < utilisation <= 1:
        raise InputError(f"GPU utilisation: {utilisation} must be above 0 and at most 1")
    shared = shared_monthly_lines(monthly_queries, profile, embedding, vector_db, reranker, cache_hit_rate)
    misses = monthly_queries * (1 - cache_hit_rate)
    capacity = monthly_gpu_capacity(gpu, profile, utilisation)
    replicas = max(1, math.ceil(misses / capacity)) if math.isfinite(capacity) else 1
    gpu_month = gpu.hourly_usd * HOURS_PER_MONTH
    cost = replicas * gpu_month
    line = CostLine(f"GPU ({gpu.name})", cost,
                    f"ceil({misses:,.0f} requests / {capacity:,.0f} per GPU-month at {utilisation:.0%}) = {replicas} GPU"
                    f" x ${gpu.hourly_usd:,.2f}/h x {HOURS_PER_MONTH} h = {usd(cost)}")
    return CostBreakdown([line] + shared)


def cache_savings(monthly_queries: float, profile: RequestProfile, llm: LlmApi, cache_hit_rate: float,
                  reranker: Reranker | None = None) -> CostLine:
    """What cache hits save on an API generator: the LLM (and reranker) calls they skip."""
    _check_volume(monthly_queries)
    _check_rate(cache_hit_rate)
    hits = monthly_queries * cache_hit_rate
    per_request = llm_cost_per_request(profile, llm) + (reranker.per_1k_requests_usd / 1000 if reranker else 0.0)
    saved = hits * per_request
    return CostLine("cache savings", saved,
                    f"{monthly_queries:,.0f} queries x {cache_hit_rate:.0%} hits x {usd(per_request)} per skipped call = {usd(saved)}")


@dataclass(frozen=True)
class BreakEven:
    """Monthly query volume where one rented GPU costs what the API does, and above which self-hosting stays cheaper."""

    first_volume: float | None
    sustained_volume: float | None
    formula: str


def break_even_volume(profile: RequestProfile, llm: LlmApi, gpu: Gpu, utilisation: float = 0.6,
                      cache_hit_rate: float = 0.0) -> BreakEven:
    """Compare the LLM serving cost only: embeddings, reranking and storage are the same on both sides.

    API: c x queries x (1 - h). Self-hosted: ceil(queries x (1 - h) / Q) x G, where G is a GPU-month and Q the
    requests one GPU serves in a month. One GPU pays for itself at G / c requests. Each added GPU re-opens a
    gap where the API is cheaper, until n - 1 GPUs full of traffic cost more on the API than n GPUs:
    the first such n is ceil(1 / (1 - rho)), rho = G / (c Q), and the gaps end for good at (n - 1) G / c.
    """
    _check_rate(cache_hit_rate)
    c = llm_cost_per_request(profile, llm)
    gpu_month = gpu.hourly_usd * HOURS_PER_MONTH
    capacity = monthly_gpu_capacity(gpu, profile, utilisation)
    if c <= 0:
        return BreakEven(None, None, f"the API charges nothing per request: self-hosting on {gpu.name} never breaks even")
    rho = gpu_month / (c * capacity)
    if rho >= 1:
        return BreakEven(None, None,
                         f"a full {gpu.name} costs {usd(gpu_month / capacity)} per request vs {usd(c)} on the API: "
                         "self-hosting never breaks even")
    miss_share = 1 - cache_hit_rate
    first = gpu_month / c / miss_share
    gpus_for_good = math.ceil(1 / (1 - rho) - 1e-12)
    sustained = (gpus_for_good - 1) * gpu_month / c / miss_share if gpus_for_good > 1 else first
    formula = (f"G / (c x (1 - h)) = {usd(gpu_month)} / ({usd(c)} x {miss_share:.0%}) = {first:,.0f} queries/month; "
               f"rho = G / (c x Q) = {rho:.3f} with Q = {capacity:,.0f} requests/GPU-month, "
               f"so self-hosting stays cheaper above {sustained:,.0f} queries/month")
    return BreakEven(first, max(first, sustained), formula)


def volume_grid(current: float, points: int = 40) -> list[float]:
    """Log-spaced monthly volumes from 1k to well past the current volume, with the current one included."""
    top = max(10_000_000.0, current * 10)
    low, high = math.log10(1_000), math.log10(top)
    grid = {round(10 ** (low + (high - low) * i / (points - 1))) for i in range(points)}
    if current > 0:
        grid.add(round(current))
    return sorted(grid)


def cost_curves(volumes: list[float], profile: RequestProfile, llms: list[LlmApi], gpus: list[Gpu],
                embedding: EmbeddingApi, vector_db: VectorDb, reranker: Reranker | None = None,
                cache_hit_rate: float = 0.0, utilisation: float = 0.6) -> list[dict]:
    """Monthly cost at each volume for every API model and every self-hosted GPU: rows for a line chart."""
    rows = []
    for volume in volumes:
        for llm in llms:
            total = monthly_api_cost(volume, profile, llm, embedding, vector_db, reranker, cache_hit_rate).total
            rows.append({"queries_per_month": volume, "option": f"API: {llm.name}", "serving": "API", "monthly_usd": total})
        for gpu in gpus:
            total = monthly_selfhosted_cost(volume, profile, gpu, embedding, vector_db, reranker, cache_hit_rate,
                                            utilisation).total
            rows.append({"queries_per_month": volume, "option": f"vLLM: {gpu.name}", "serving": "self-hosted",
                         "monthly_usd": total})
    return rows
