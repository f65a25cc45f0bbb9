"""Context assembly: retrieved chunks become numbered passages within a token budget, optionally compressed."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from backend.generation.base import Passage
from backend.generation.encoder import RelevanceScorer
from backend.generation.prompts import looks_like_injection
from backend.models import Hit
from backend.retrieval.freshness import asks_about_the_past, is_superseded
from backend.text.sentences import count_tokens, split_sentences

COMPRESS_KEEP_WITHIN = 0.2  # a sentence is kept when it scores within this of the question's best sentence
COMPRESS_MIN_PER_PASSAGE = 1  # every passage keeps at least its best sentence
# Kept sentences go on lines of their own: every reader (extractive, citation check, LLM) still sees sentences.
KEPT_SEPARATOR = "\n"


@dataclass
class ContextPack:
    passages: list[Passage]
    tokens: int  # tokens of the passages as given to the generator
    tokens_uncompressed: int  # tokens the same passages had before compression
    dropped: list[int] = field(default_factory=list)  # chunk ids left out for the budget

    @property
    def saved_tokens(self) -> int:
        return self.tokens_uncompressed - self.tokens


def _truncate(text: str, budget: int) -> str:
    """The longest prefix of whole sentences within `budget` tokens (at least a cut sentence)."""
    kept = []
    used = 0
    for span in split_sentences(text):
        cost = count_tokens(span.text)
        if used + cost > budget:
            break
        kept.append(span.text)
        used += cost
    if kept:
        return " ".join(kept)
    return text[: max(1, budget * 4)]  # a single sentence over budget: cut by the 4-chars-per-token rule


def compress_passages(question: str, passages: list[Passage], scorer: RelevanceScorer) -> list[Passage]:
    """Keep only each passage's sentences relevant to the question, in their original order."""
    units = [(p, span) for p in passages for span in split_sentences(p.text)]
    if not units:
        return passages
    scores = scorer.score(question, [span.text for _, span in units])
    best = float(scores.max())
    out: list[Passage] = []
    for passage in passages:
        own = [(span, float(s)) for (p, span), s in zip(units, scores) if p is passage]
        if not own:
            continue
        top = sorted(own, key=lambda item: -item[1])[:COMPRESS_MIN_PER_PASSAGE]
        keep = {span.start for span, _ in top}
        keep |= {span.start for span, s in own if s >= best - COMPRESS_KEEP_WITHIN}
        kept = [span.text for span, _ in own if span.start in keep and not looks_like_injection(span.text)]
        if not kept:
            continue
        text = KEPT_SEPARATOR.join(kept)
        out.append(replace(passage, text=text, tokens=count_tokens(text)))
    return out


def current_first(hits: list[Hit], question: str) -> list[Hit]:
    """The hits with every superseded version's chunk after every current chunk (each group in rank order),
    unless the question asks about the past.

    Retrieval only demotes superseded chunks, and a reranker or a strong lexical match can still put one
    ahead; packed in that order it would take the budget, and the first place, of the current chunk that
    answers, and a generator would quote the old figure.
    """
    if asks_about_the_past(question):
        return list(hits)
    return [h for h in hits if not is_superseded(h)] + [h for h in hits if is_superseded(h)]


def assemble_context(
    hits: list[Hit], question: str, token_budget: int, *, compress: bool = False, scorer: RelevanceScorer | None = None
) -> ContextPack:
    """Numbered passages from the hits in rank order, current versions first, within `token_budget` tokens.

    Compression runs first (so the budget holds more passages), then passages are added while they fit;
    the first passage is truncated rather than dropped, so a single long chunk still yields an answer.
    """
    candidates: list[Passage] = []
    for hit in current_first(hits, question):
        if hit.chunk is None:
            continue
        chunk = hit.chunk
        tokens = chunk.token_count or count_tokens(chunk.text)
        candidates.append(Passage(len(candidates) + 1, chunk, chunk.text, tokens, hit.fused_score,
                                  superseded=is_superseded(hit)))
    uncompressed = {p.number: p.tokens for p in candidates}
    if compress and scorer is not None and candidates:
        candidates = compress_passages(question, candidates, scorer)
    passages: list[Passage] = []
    dropped: list[int] = []
    used = 0
    for passage in candidates:
        if used + passage.tokens <= token_budget:
            passages.append(passage)
            used += passage.tokens
        elif not passages:
            text = _truncate(passage.text, token_budget)
            passages.append(replace(passage, text=text, tokens=count_tokens(text)))
            used += passages[-1].tokens
        else:
            dropped.append(passage.chunk.id)
    # Renumber 1..n in rank order so the markers the reader sees have no gaps.
    renumbered = [replace(p, number=i + 1) for i, p in enumerate(passages)]
    before = sum(uncompressed.get(p.number, p.tokens) for p in passages)
    return ContextPack(renumbered, used, before, dropped)
