"""Redaction on the chat path: what a request searches with, and citations as the user sees them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from backend.ingest.personal_data import replacement, value_hash
from backend.models import Citation

# What a search loses when redacted: "<LOCATION>" for "London" or "<PERSON>" for a name in a worked example loses the
# answer (bench/bench_pii.py, the demo gold set). An e-mail address, a number or an id is noise to a search instead.
NAMES_AND_PLACES = frozenset({"PERSON", "LOCATION"})
# Kept in answers and their citations: a place a document names ("before 15:00 UK time", "Hotels in London are
# limited to £200") is not personal data on its own, and masking it left answers unreadable ("15:00 <LOCATION>
# time"). A street address is STREET_ADDRESS and stays redacted, and so do names. The question keeps its place
# redacted wherever it is stored or sent (a user's own place can be personal), so an answer cannot echo it.
KEPT_IN_ANSWERS = frozenset({"LOCATION"})


@dataclass(frozen=True)
class StoredFindings:
    """What ingest recorded of one chunk's personal data (backend/store/document_pii.py)."""

    text: str  # the chunk's stored text: the findings' offsets are into it
    redacted: bool  # stored redacted: its findings were replaced at ingest
    findings: tuple[tuple[str, int, int, float, str], ...]  # type, start, end, score, value hash
    data_dir: Path  # whose salt the value hashes were made with


def search_question(redactor, asked: str, redacted: str, standalone: str, found: list[str],
                    findings: list | None = None) -> str:
    """The question retrieval and an in-process generator work with inside one request: names and places as asked,
    everything else redacted. Traces, cache keys, stored turns and an LLM get the redacted question. A follow-up
    rewritten from earlier (stored, redacted) turns is searched as rewritten. `findings`: the analyzer's results
    for `asked` from its redaction, so the question is not analysed twice on the hot path."""
    if standalone != redacted or not NAMES_AND_PLACES & set(found):
        return standalone
    return redactor.redact(asked, keep=NAMES_AND_PLACES, findings=findings).text


def redact_answer(redactor, text: str):
    """An answer's text as the user sees it (a Redaction): personal data redacted, the places it names kept."""
    return redactor.redact(text, keep=KEPT_IN_ANSWERS)


def citation_findings(store, data_dir: Path, chunk_ids: Sequence[int]) -> dict[int, StoredFindings]:
    """What ingest recorded of the personal data in each cited chunk (backend/store/document_pii.py), by chunk id;
    a chunk of a version ingest never analysed (an older document) is absent, and its citation is analysed."""
    from backend.store import document_pii

    with store.cursor() as cur:
        found = document_pii.chunk_findings(cur, list(dict.fromkeys(chunk_ids)))
    return {chunk_id: StoredFindings(row["text"], row["redacted"], tuple(row["findings"]), Path(data_dir))
            for chunk_id, row in found.items()}


def redact_citation(redactor, citation: Citation, stored: StoredFindings | None = None) -> Citation:
    """Quote and chunk text as the user sees them: redacted as answers are, with the quote's offsets inside the
    redacted chunk. With `stored` (the chunk's findings recorded at ingest) the spans come from there, so nothing
    is analysed again; without it, or when they do not fit the citation's text, the redactor analyses it."""
    spans = _stored_spans(redactor, citation, stored) if stored is not None else None
    if spans is None:
        return _redact_by_analysis(redactor, citation)
    context = citation.context
    pieces: list[str] = []
    cursor = 0
    moves: list[tuple[int, int, int, int]] = []  # old start, old end, new start, new end of each replacement
    position = 0
    for entity, start, end, score in spans:  # in text order, no two overlapping (ingest removed overlaps)
        pieces.append(context[cursor:start])
        position += start - cursor
        replaced = replacement(redactor, entity, context[start:end], score)
        moves.append((start, end, position, position + len(replaced)))
        pieces.append(replaced)
        position += len(replaced)
        cursor = end
    pieces.append(context[cursor:])
    redacted = "".join(pieces)
    start, end = _moved(citation.quote_start, moves, True), _moved(citation.quote_end, moves, False)
    citation.context, citation.quote = redacted, redacted[start:end]
    citation.quote_start, citation.quote_end = start, end
    return citation


def _stored_spans(redactor, citation: Citation, stored: StoredFindings) -> list[tuple[str, int, int, float]] | None:
    """The stored findings to replace in the citation's chunk text, as the redactor's analysis would report them
    (its types and threshold, places kept as answers keep them), clipped to the chunk; None: they do not fit (the
    citation's text is not the stored chunk's, or a finding's value does not hash to what ingest recorded)."""
    context = citation.context
    if not context or context != stored.text or context[citation.quote_start:citation.quote_end] != citation.quote:
        return None
    if stored.redacted:  # ingest replaced every finding in the stored text already: nothing is left to redact
        return []
    if any(finding[0] in KEPT_IN_ANSWERS for finding in stored.findings):
        # ingest resolved overlaps before answers keep places: a place may have won over the address or name it
        # overlaps, which an answer redacts, so such a chunk is analysed as before
        return None
    entities = set(redactor.entities)
    spans = []
    for entity, start, end, score, digest in stored.findings:
        inside = 0 <= start and end <= len(context)
        if inside and value_hash(stored.data_dir, entity, context[start:end]) != digest:
            return None  # offsets that do not point at the value found: analyse instead of trusting them
        if entity in entities and entity not in KEPT_IN_ANSWERS and score >= redactor.score_threshold:
            # a finding crossing the chunk's edge: its part inside is still personal data
            spans.append((entity, max(start, 0), min(end, len(context)), score))
    return sorted((span for span in spans if span[2] > span[1]), key=lambda span: span[1])


def _moved(offset: int, moves: list[tuple[int, int, int, int]], is_start: bool) -> int:
    """An offset of the chunk text in the redacted text; a quote edge inside a replaced value takes all of it."""
    shift = 0
    for old_start, old_end, new_start, new_end in moves:
        if (old_start <= offset < old_end) if is_start else (old_start < offset <= old_end):
            return new_start if is_start else new_end
        if old_end > offset:
            break
        shift = new_end - old_end
    return offset + shift


def _redact_by_analysis(redactor, citation: Citation) -> Citation:
    """The citation's quote and chunk text each analysed and redacted, the quote found again in the chunk's."""
    context = citation.context or citation.quote
    quote = redact_answer(redactor, citation.quote).text
    redacted_context = redact_answer(redactor, context).text
    start = redacted_context.find(quote)
    if start < 0:  # redaction changed the quote's surroundings: show the quote alone
        redacted_context, start = quote, 0
    citation.quote, citation.context = quote, redacted_context
    citation.quote_start, citation.quote_end = start, start + len(quote)
    return citation
