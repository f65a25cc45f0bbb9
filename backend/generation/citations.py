"""Citation verification: every [n] in an answer is checked against the chunk it cites and given a support score."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from backend.generation.base import Passage
from backend.generation.encoder import SentenceEncoder
from backend.generation.markers import removed_markers_notice
from backend.models import Citation
from backend.text.sentences import SentenceSpan, content_stems, numbers, split_sentences, term_recall

_ONE_MARKER = re.compile(r"\[(\d{1,3})\]")
UNSUPPORTED_SUFFIX = "?"  # [2] becomes [2?] when passage 2 does not support the sentence
MISSING_NUMBER_PENALTY = 0.5  # a figure in the claim that the quote lacks is the classic invented detail
UNCITED_MIN_WORDS = 4  # a shorter unmarked sentence is a lead-in ("In short:"), not a claim


SHORTLIST = 4  # windows per claim scored with the embedder


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9£$€%]+", " ", text.lower()).strip()


@dataclass
class Verification:
    text: str
    citations: list[Citation]
    notices: list[str] = field(default_factory=list)

    @property
    def supported(self) -> list[Citation]:
        return [c for c in self.citations if c.supported]


# "... 0.5% [2]. product: Everyday Account ...": a marker closing a sentence ends it even when the next one starts in
# lower case (a table row read out), which split_sentences alone would run into one claim citing both passages.
_MARKER_END = re.compile(r"\[\d{1,3}\??\][.!?]?(?=\s+\S)")


def _marked_sentences(answer: str) -> list[SentenceSpan]:
    spans: list[SentenceSpan] = []
    for span in split_sentences(answer):
        start = 0
        for match in _MARKER_END.finditer(span.text):
            piece = span.text[start:match.end()]
            spans.append(SentenceSpan(span.start + start, span.start + match.end(), piece))
            start = match.end() + len(span.text[match.end():]) - len(span.text[match.end():].lstrip())
        if start < len(span.text):
            spans.append(SentenceSpan(span.start + start, span.end, span.text[start:]))
    return spans


def _claims(answer: str) -> list[tuple[int, int, str, list[int]]]:
    """(start, end, claim text without markers, cited numbers) per answer sentence."""
    out: list[tuple[int, int, str, list[int]]] = []
    for span in _marked_sentences(answer):
        cited = [int(n) for n in _ONE_MARKER.findall(span.text)]
        claim = _ONE_MARKER.sub("", span.text).strip()
        if not re.search(r"\w", claim) and out:  # "... text. [1]": the marker belongs to the sentence before
            start, _, previous, previous_cited = out[-1]
            out[-1] = (start, span.end, previous, previous_cited + cited)
            continue
        out.append((span.start, span.end, claim, cited))
    return out


def uncited_notice(count: int) -> str:
    if count == 1:
        return "1 sentence of this answer cites no passage, so nothing backs it; do not rely on it."
    return f"{count} sentences of this answer cite no passage, so nothing backs them; do not rely on them."


class CitationVerifier:
    """Support of a claim by a span = dense cosine and content-word recall averaged, halved when a
    number in the claim is absent from the span. A citation's quote is the chunk's best-supporting span
    (one sentence, or two adjacent ones when a claim merges them)."""

    def __init__(self, encoder: SentenceEncoder, threshold: float, dense_weight: float = 0.5):
        self.encoder = encoder
        self.threshold = threshold
        self.dense_weight = dense_weight

    def support(self, claim: str, spans: list[str]) -> np.ndarray:
        if not spans or not claim.strip():
            return np.zeros(len(spans), dtype=np.float32)
        vectors = self.encoder.encode([claim, *spans])
        cosine = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
        claim_stems, claim_numbers = content_stems(claim), numbers(claim)
        scores = []
        for span, cos in zip(spans, cosine):
            score = self.dense_weight * float(cos) + (1 - self.dense_weight) * term_recall(claim_stems, content_stems(span))
            if claim_numbers - numbers(span):
                score *= MISSING_NUMBER_PENALTY
            scores.append(min(1.0, score))
        return np.asarray(scores, dtype=np.float32)

    def best_quote(self, claim: str, chunk_text: str) -> tuple[float, int, int]:
        sentences = split_sentences(chunk_text)
        if not sentences:
            return 0.0, 0, 0
        normalised = _normalise(claim)
        for s in sentences:  # a verbatim quote (the extractive generator's case) needs no model
            if _normalise(s.text) == normalised:
                return 1.0, s.start, s.end
        windows = [(s.start, s.end) for s in sentences]
        windows += [(a.start, b.end) for a, b in zip(sentences, sentences[1:])]
        # Only the lexically closest windows are embedded: the cosine refines, recall shortlists.
        claim_stems = content_stems(claim)
        recall = [term_recall(claim_stems, content_stems(chunk_text[a:b])) for a, b in windows]
        shortlist = sorted(range(len(windows)), key=lambda i: (-recall[i], i))[:SHORTLIST]
        scores = self.support(claim, [chunk_text[windows[i][0]:windows[i][1]] for i in shortlist])
        # Prefer a single sentence unless a pair is clearly better (quotes stay short).
        ranked = sorted(zip(shortlist, scores), key=lambda item: -item[1])
        pick, best = ranked[0]
        singles = [(i, sc) for i, sc in ranked if i < len(sentences)]
        if pick >= len(sentences) and singles and singles[0][1] >= best - 0.05:
            pick, best = singles[0]
        start, end = windows[pick]
        return float(best), start, end

    def verify(self, answer: str, passages: list[Passage]) -> Verification:
        by_number = {p.number: p for p in passages}
        citations: list[Citation] = []
        seen: set[tuple[int, int]] = set()
        notices: list[str] = []
        unknown: set[int] = set()
        unsupported: set[int] = set()
        rewritten = answer
        flagged: dict[tuple[int, int], set[int]] = {}
        uncited = 0
        for start, end, claim, cited in _claims(answer):
            uncited += not cited and len(re.findall(r"\w+", claim)) >= UNCITED_MIN_WORDS
            for number in dict.fromkeys(cited):
                passage = by_number.get(number)
                if passage is None:
                    unknown.add(number)
                    continue
                chunk = passage.chunk
                score, quote_start, quote_end = self.best_quote(claim, chunk.text)
                supported = score >= self.threshold
                if not supported:
                    unsupported.add(number)
                    flagged.setdefault((start, end), set()).add(number)
                if (number, quote_start) in seen and supported:
                    continue
                seen.add((number, quote_start))
                citations.append(Citation(
                    marker=number, chunk_id=chunk.id, document_id=chunk.document_id, title=chunk.title,
                    quote=chunk.text[quote_start:quote_end], score=round(score, 3), supported=supported,
                    page=chunk.page, heading_path=tuple(chunk.heading_path or ()),
                    quote_start=quote_start, quote_end=quote_end, context=chunk.text,
                ))
        # Rewrite markers right to left so offsets stay valid: unknown ones go, unsupported ones are flagged.
        for (start, end), flagged_numbers in sorted(flagged.items(), key=lambda item: -item[0][0]):
            segment = rewritten[start:end]
            for number in flagged_numbers:
                segment = segment.replace(f"[{number}]", f"[{number}{UNSUPPORTED_SUFFIX}]")
            rewritten = rewritten[:start] + segment + rewritten[end:]
        for number in unknown:
            rewritten = rewritten.replace(f"[{number}]", "")
        if unknown:
            notices.append(removed_markers_notice(unknown))
        if unsupported:
            marks = ", ".join(f"[{n}{UNSUPPORTED_SUFFIX}]" for n in sorted(unsupported))
            notices.append(f"Citation(s) {marks} are not supported by the passage they cite; do not rely on them.")
        if uncited:  # an LLM's sentence without a marker is not checked against anything: say so, never hide it
            notices.append(uncited_notice(uncited))
        return Verification(re.sub(r"[ \t]{2,}", " ", rewritten).strip(), citations, notices)
