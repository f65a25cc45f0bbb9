"""Overviews for broad questions ("What is the refund policy?"): distinct, cited sentences of the one document asked about."""
from __future__ import annotations

import re
from typing import Protocol, Sequence, TypeVar

from rapidfuzz import fuzz

from backend.generation.base import Passage
from backend.text.sentences import content_stems, term_recall, words

# Words that name a kind of document or ask for a summary: they say a question is broad, not what it is about.
_GENERIC = content_stems(
    "policy policies standard standards rule rules procedure procedures process plan plans guide guidance guideline "
    "guidelines schedule requirement requirements framework overview summary document main key points say tell"
)
_DOCUMENT_NOUN = (r"polic(?:y|ies)|standards?|rules|procedures?|process|plans?|guidance|guidelines?|guide|schedule|"
                  r"requirements|framework")
_ARTICLE = r"(?:(?:the|our|your|a|an|this|that)\s+)?"
_NOT_A_WH_CLAUSE = r"(?!(?:why|how|what|when|where|who|whom|which|whether|if)\b)"  # "explain why ..." is narrow
_BROAD_FORMS = (
    # "Summarise the password rules", "Give me an overview of ...", "Tell me about the savings accounts"
    re.compile(rf"\b(?:summari[sz]e|sum up|outline|describe|explain|walk me through|tell me about|overview of|"
               rf"summary of)\s+{_NOT_A_WH_CLAUSE}{_ARTICLE}(?P<subject>[^?.!]+)", re.IGNORECASE),
    # "What is the refund policy?", "What are the rules on gifts and hospitality?": at most five words before the
    # document noun, so "What is the minimum password length for a standard staff account?" stays narrow.
    re.compile(rf"\bwhat(?:'s|\s+is|\s+are|\s+was|\s+were)\s+{_ARTICLE}(?P<subject>(?:[\w'-]+\s+){{0,5}}?"
               rf"(?:{_DOCUMENT_NOUN}))(?P<rest>\s+(?:on|for|about|around|regarding|covering)\s+[^?.!]+)?\s*[?.!]*\s*$",
               re.IGNORECASE),
    # "What does the access control standard say (about leavers)?"
    re.compile(rf"\bwhat\s+do(?:es)?\s+{_ARTICLE}(?P<subject>[^?.!]+?)\s+say(?:\s+about\s+(?P<rest>[^?.!]+))?\s*[?.!]*\s*$",
               re.IGNORECASE),
)
NAMED_AT_LEAST = 0.5  # share of the subject's words the document's title or headings must name
QUOTE_MIN_WORDS = 6  # shorter sentences are labels or fragments, not points of an overview
WRAPPED_LINE_WORDS = 10  # a line this long that ends without punctuation was wrapped (PDF text), not a heading
_SENTENCE_START = re.compile(r"[\"'(£$€A-Z0-9]")
_LABEL = re.compile(r"[A-Z][\w-]*(?: [\w-]+){0,2}:\s")  # "Owner: Head of People." is document metadata, not a point
# A sentence that leans on the one before ("On top of that, ...", "It implements ...") reads wrongly out of place.
_LEANS_BACK = re.compile(r"(?:on top of that|however|otherwise|also|in (?:that|this) case|in addition|then|but|and|so|"
                         r"it|its|they|their|these|those|that|such)\b", re.IGNORECASE)
NEAR_DUPLICATE_RATIO = 80  # rapidfuzz ratio at which two sentences say the same thing
NEAR_DUPLICATE_STEMS = 0.6  # or this share of shared content words (Jaccard)
MIN_POINTS = 2  # fewer distinct sentences is not an overview: the narrow answer path handles it
LEAD_BONUS = 0.1  # a passage's first sentence usually states what its section is about


class Scored(Protocol):
    """A scored sentence of a passage (the extractive generator's Candidate)."""

    passage: Passage
    text: str
    order: int
    score: float


S = TypeVar("S", bound=Scored)


def broad_subject(question: str) -> set[str]:
    """Content stems of what a broad question asks about ({"refund"} for "What is the refund policy?"), or an
    empty set when the question is not phrased as a request for an overview."""
    for form in _BROAD_FORMS:
        match = form.search(question.strip())
        if match:
            text = " ".join(part for part in match.groupdict().values() if part)
            return content_stems(text) - _GENERIC
    return set()


def _stems(texts: list[str]) -> set[str]:
    return set().union(*(content_stems(t) for t in texts)) if texts else set()


def _mentions(subject: set[str], passage: Passage) -> bool:
    """The passage, under its title and headings, names every word of the subject."""
    chunk = passage.chunk
    return term_recall(subject, content_stems(" ".join([chunk.title, *(chunk.heading_path or ()), passage.text]))) >= 1.0


def focus_passages(subject: set[str], passages: list[Passage], allow_superseded: bool) -> list[Passage]:
    """The passages of the one document the question is about that name all of its subject; that document's
    title or headings name at least half of the subject. The best title match wins; a superseded version never
    does unless the question asks about the past (a superseded document always has a current one)."""
    by_document: dict[int, list[Passage]] = {}
    for passage in passages:
        by_document.setdefault(passage.chunk.document_id, []).append(passage)
    ranked = []
    for own in by_document.values():
        about = [p for p in own if _mentions(subject, p)]
        if not about or (own[0].superseded and not allow_superseded):
            continue
        title = content_stems(own[0].chunk.title)
        named = title | _stems([" ".join(p.chunk.heading_path or ()) for p in own])
        if term_recall(subject, named) < NAMED_AT_LEAST:
            continue
        ranked.append((term_recall(subject, title), term_recall(subject, named), len(about), -about[0].number, about))
    if not ranked:
        return []
    return max(ranked, key=lambda option: option[:4])[4]


def _quotable(candidate: Scored) -> bool:
    """A whole prose sentence, verbatim in its chunk: citation checks find it exactly, and it reads as a point
    (table rows rewritten with their column names, "Owner: ..." lines and list fragments do not)."""
    text = candidate.text.strip()
    chunk = candidate.passage.chunk.text
    at = chunk.find(text)
    if (at < 0 or not text.endswith((".", "!", "?")) or len(words(text)) < QUOTE_MIN_WORDS
            or not _SENTENCE_START.match(text) or _LABEL.match(text) or _LEANS_BACK.match(text)):
        return False
    before = chunk[:at]
    previous_line = before.rstrip().rpartition("\n")[2]
    # PDF text keeps the page's line breaks, which split sentences: a piece that follows a long line ending
    # mid-sentence is the tail of a sentence, not one.
    wrapped = (before[len(before.rstrip()):].count("\n") == 1 and not previous_line.rstrip().endswith((".", "!", "?", ":", ";"))
               and len(words(previous_line)) > WRAPPED_LINE_WORDS)
    return not wrapped


def _repeats(candidate: Scored, chosen: Sequence[Scored]) -> bool:
    stems = content_stems(candidate.text)
    for other in chosen:
        theirs = content_stems(other.text)
        overlap = len(stems & theirs) / max(1, len(stems | theirs))
        if overlap >= NEAR_DUPLICATE_STEMS or fuzz.ratio(candidate.text, other.text) >= NEAR_DUPLICATE_RATIO:
            return True
    return False


def compose_overview(question: str, candidates: Sequence[S], limit: int, allow_superseded: bool = False) -> list[S]:
    """Sentences for an overview of the document a broad question is about, in document order, or [] when the
    question is not broad or no retrieved document is about its subject (then the narrow path decides)."""
    subject = broad_subject(question)
    if not subject or limit < 1:
        return []
    passages = list({id(c.passage): c.passage for c in candidates}.values())
    focus = {p.number for p in focus_passages(subject, passages, allow_superseded)}
    pool = [c for c in candidates if c.passage.number in focus and _quotable(c)]
    if not pool:
        return []
    lead: dict[int, int] = {}
    for candidate in pool:
        lead[candidate.passage.number] = min(candidate.order, lead.get(candidate.passage.number, candidate.order))
    pool.sort(key=lambda c: -(c.score + LEAD_BONUS * (c.order == lead[c.passage.number])))
    chosen: list[S] = []
    sections: set[tuple[str, ...]] = set()
    # First the best sentence of each section, so the overview covers the document rather than one paragraph;
    # then the next best sentences wherever they are.
    for first_pass in (True, False):
        for candidate in pool:
            section = tuple(candidate.passage.chunk.heading_path or ())
            if len(chosen) >= limit:
                break
            if any(candidate is c for c in chosen) or (first_pass and section in sections) or _repeats(candidate, chosen):
                continue
            chosen.append(candidate)
            sections.add(section)
    if len(chosen) < min(MIN_POINTS, limit):
        return []
    return sorted(chosen, key=lambda c: (c.passage.chunk.ordinal, c.passage.chunk.char_start, c.order))
