"""A scripted pipeline of nested spans in the shape of the hot path (for tests that need traces)."""
from __future__ import annotations

from backend.observability.conventions import STAGES
from backend.observability.tracing import Tracer


def scripted_request(
    tracer: Tracer,
    question: str,
    fail_stage: str | None = None,
    collection: str = "demo",
    top_score: float = 0.8,
    answer: str = "redacted answer",
    grounded: bool = True,
    cache_hit: bool = False,
    tokens_in: int = 120,
    pii_hits: int = 0,
    cost_usd: float | None = None,
) -> str:
    """The hot path's shape: a root span and one child per stage, stages nested only under the root."""
    with tracer.request("rag.ask", question=question, collection=collection, tenant="default") as root:
        for stage in STAGES:
            try:
                with tracer.span(stage, k=5) as span:
                    if stage == "redact":
                        span.set(pii_hits=pii_hits)
                    if stage == "generate":
                        span.set(tokens_in=tokens_in, tokens_out=30, model="extractive", cost_usd=tokens_in * 5e-6 if cost_usd is None else cost_usd)
                    if stage == fail_stage:
                        raise RuntimeError(f"{stage} broke")
            except RuntimeError:
                root.set(fallback=True)
        root.set(answer=answer, grounded=grounded, top_score=top_score, mean_score=top_score / 2, cache_hit=cache_hit)
        return root.trace_id
