"""Prefer current document versions: chunks of documents marked superseded are demoted after fusion."""
from __future__ import annotations

from backend.models import Hit
from backend.store import documents as document_store
from backend.store.db import Store


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
            hit.scores["superseded_penalty"] = penalty
    ordered = sorted(hits, key=lambda h: -h.fused_score)
    for rank, hit in enumerate(ordered, start=1):
        hit.rank = rank
    return ordered


def prefer_current(store: Store, hits: list[Hit], penalty: float) -> list[Hit]:
    """`demote_superseded` with the superseded set looked up for these hits' documents."""
    if penalty >= 1.0 or not hits:
        return hits
    documents = {h.chunk.document_id for h in hits if h.chunk is not None}
    with store.cursor() as cur:
        superseded = document_store.superseded_document_ids(cur, documents) if documents else set()
    return demote_superseded(hits, superseded, penalty)
