"""Prefer current document versions: chunks of documents marked superseded are demoted after fusion."""
from __future__ import annotations

import re

from backend.models import Hit
from backend.store import documents as document_store
from backend.store.db import Store

SUPERSEDED = "superseded_penalty"  # the score a demoted hit carries: the penalty it was given

# A question about the past (a year, an earlier version, a change) may want a superseded version: retrieval, context
# assembly and the extractive generator all read it here.
_ASKS_ABOUT_THE_PAST = re.compile(
    r"\b(?:19|20)\d{2}\b|\b(?:previous(?:ly)?|old(?:er)?|former(?:ly)?|before|superseded|used to|earlier|last year|change[ds]?)\b",
    re.IGNORECASE,
)


def asks_about_the_past(question: str) -> bool:
    """True when a question may want a superseded version ("what was the fee in 2024?", "what changed?")."""
    return bool(_ASKS_ABOUT_THE_PAST.search(question or ""))


def is_superseded(hit: Hit) -> bool:
    return SUPERSEDED in hit.scores


def demoted(score: float, penalty: float) -> float:
    """`score` made worse by `penalty` on any scale, signed ones too (a cosine, a cross-encoder logit):
    0.6 -> 0.3 and -0.2 -> -0.3 at 0.5, where plain multiplication would lift a negative score."""
    return score - (1.0 - penalty) * abs(score)


def demote_superseded(hits: list[Hit], superseded: set[int], penalty: float) -> list[Hit]:
    """Multiply the fused score of hits from superseded documents by `penalty` and re-sort (stable).

    A superseded policy still answers questions about the past, so it is demoted, not removed: with
    two versions of a fee table, the current one must rank first for "what is the fee?".
    """
    if not superseded or penalty >= 1.0:
        return hits
    for hit in hits:
        if hit.chunk is not None and hit.chunk.document_id in superseded:
            hit.fused_score *= penalty
            hit.scores[SUPERSEDED] = penalty
    ordered = sorted(hits, key=lambda h: -h.fused_score)
    for rank, hit in enumerate(ordered, start=1):
        hit.rank = rank
    return ordered


def prefer_current(store: Store, hits: list[Hit], penalty: float, query: str = "") -> list[Hit]:
    """`demote_superseded` with the superseded set looked up for these hits' documents.

    For a question about the past the superseded hits are only marked (a penalty of 1.0): demoted, the
    version asked about would fall below the cut to k, and the mark still tells generators it is the old one.
    """
    if penalty >= 1.0 or not hits:
        return hits
    documents = {h.chunk.document_id for h in hits if h.chunk is not None}
    with store.cursor() as cur:
        superseded = document_store.superseded_document_ids(cur, documents) if documents else set()
    if asks_about_the_past(query):
        for hit in hits:
            if hit.chunk is not None and hit.chunk.document_id in superseded:
                hit.scores[SUPERSEDED] = 1.0
        return hits
    return demote_superseded(hits, superseded, penalty)
