"""Why a question failed: retrieval miss, ranking miss or generation failure, with counts and examples per run."""
from __future__ import annotations

from dataclasses import dataclass

from backend.context import RequestContext
from backend.evaluation import access

OK = "ok"
RETRIEVAL_MISS = "retrieval_miss"
RANKING_MISS = "ranking_miss"
GENERATION_FAILURE = "generation_failure"
ERROR = "error"
CLASSES = (RETRIEVAL_MISS, RANKING_MISS, GENERATION_FAILURE, ERROR)
LABELS = {
    RETRIEVAL_MISS: "Retrieval miss (gold never retrieved)",
    RANKING_MISS: "Ranking miss (gold retrieved below the cut-off)",
    GENERATION_FAILURE: "Generation failure (gold in context, answer wrong or unsupported)",
    ERROR: "Error (the question raised)",
    OK: "Passed",
}


@dataclass
class Outcome:
    """What the classifier needs to know about one answered question."""

    answerable: bool
    has_gold_documents: bool
    gold_rank: int | None  # best rank of a gold document in the ranked candidates, None if absent
    gold_in_context: bool  # a chunk of a gold document was among those given to the generator
    abstained: bool  # the generator said the documents do not contain the answer
    answer_score: float | None  # similarity to the reference (1.0 when it quotes the evidence); None: no reference
    supported: bool  # every citation of the answer is supported by its quote
    error: str = ""


def classify(outcome: Outcome, min_answer_score: float = 0.6) -> tuple[str, str]:
    """(class, reason). The order matters: a question is charged to the first stage that lost the gold."""
    if outcome.error:
        return ERROR, outcome.error
    if not outcome.answerable:
        if outcome.abstained:
            return OK, "correctly said the documents do not answer it"
        return GENERATION_FAILURE, "answered a question the documents cannot answer"
    if outcome.has_gold_documents:
        if outcome.gold_rank is None:
            return RETRIEVAL_MISS, "no gold document among the retrieved candidates"
        if not outcome.gold_in_context:
            return RANKING_MISS, f"best gold document at rank {outcome.gold_rank}, below the context cut-off"
    if outcome.abstained:
        return GENERATION_FAILURE, "said 'not found' although the gold was in the context" if outcome.has_gold_documents else "said 'not found'"
    if outcome.answer_score is not None and outcome.answer_score < min_answer_score:
        return GENERATION_FAILURE, (f"answer far from the reference (similarity {outcome.answer_score:.2f} < "
                                    f"{min_answer_score:.2f}) and quotes no gold evidence")
    if not outcome.supported:
        return GENERATION_FAILURE, "answer not supported by its citations"
    return OK, "passed"


def failure_report(platform, ctx: RequestContext, run_id: int, examples: int = 3) -> dict:
    """Counts per failure class and a few example questions of each, for one run the caller may read."""
    access.require_run(platform, run_id, ctx)
    rows = platform.store.query_dicts(
        "SELECT item_id, question, answer, reference_answer, failure_class, failure_reason, gold_rank "
        "FROM eval_results WHERE run_id = ? ORDER BY ordinal",
        [run_id],
    )
    counts = {name: 0 for name in (OK,) + CLASSES}
    samples: dict[str, list[dict]] = {name: [] for name in CLASSES}
    for row in rows:
        name = row["failure_class"] or OK
        counts[name] = counts.get(name, 0) + 1
        if name in samples and len(samples[name]) < examples:
            samples[name].append(row)
    return {"total": len(rows), "counts": counts, "examples": samples}


def describe(report: dict) -> str:
    """A short text version of a failure report for the CLI."""
    total = report["total"] or 1
    parts = [f"{LABELS[name].split(' (')[0]}: {report['counts'][name]} ({report['counts'][name] / total:.0%})" for name in CLASSES if report["counts"][name]]
    return "; ".join(parts) or "no failures"
