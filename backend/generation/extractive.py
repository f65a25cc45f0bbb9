"""The default generator: no model weights; answers with the retrieved sentences that best answer the question."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from backend.generation.base import Generation, GenerationRequest, GenerationStream, Passage
from backend.generation.encoder import RelevanceScorer, SentenceEncoder
from backend.generation.overview import compose_overview
from backend.generation.prompts import NOT_FOUND, looks_like_injection
from backend.models import GroundworkError
from backend.retrieval.freshness import asks_about_the_past
from backend.settings import Settings
from backend.text.sentences import content_stems, count_tokens, split_sentences, term_recall, words

MIN_WORDS = 4  # shorter units are headings or labels, not answers
HEADING_MAX_WORDS = 10  # an unpunctuated line this short (no ':' or '|') is a heading, not an answer
QUANTITY_BONUS = 0.08  # "how long / how much / what is the fee" wants a sentence that states a figure
_ASKS_QUANTITY = re.compile(
    r"\b(how (long|many|much|soon|often|far|old|quickly)|when|by when|within|deadline|limit|fee|fees|cost|costs|"
    r"charge|charged|rate|price|minimum|maximum|percentage|interest|days?|weeks?|months?|years?|hours?)\b",
    re.IGNORECASE,
)
_STATES_QUANTITY = re.compile(
    r"\d|[£$€%]|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|once|twice|free|daily|weekly|monthly|annually|immediately)\b",
    re.IGNORECASE,
)
KEEP_WITHIN = 0.12  # further sentences must score within this of the best one
ALWAYS_EMBED_PASSAGES = 2  # every sentence of the two best-ranked passages is embedded
EMBED_AT_MOST = 32  # sentences embedded per question in all (the rest are scored lexically)
CONTEXT_WEIGHT = 0.15  # share of the lexical score earned by the title/heading the sentence sits under


@dataclass
class Candidate:
    passage: Passage
    text: str  # as it will read in the answer (table rows get their column names)
    order: int  # position inside the passage
    score: float = 0.0


def _table_header(text: str, row_start: int) -> list[str] | None:
    """Column names of the markdown table a row belongs to (the row above the |---| separator)."""
    lines = text[:row_start].splitlines()
    for i in range(len(lines) - 1, 0, -1):
        if re.fullmatch(r"\s*\|?[\s:\-|]+\|?\s*", lines[i]) and "-" in lines[i]:
            return [cell.strip() for cell in lines[i - 1].strip().strip("|").split("|")]
        if "|" not in lines[i]:
            return None
    return None


def _readable(passage_text: str, start: int, sentence: str) -> str:
    if "|" not in sentence:
        return sentence
    cells = [cell.strip() for cell in sentence.strip("|").split("|")]
    header = _table_header(passage_text, start)
    if header and len(header) == len(cells) and cells != header:
        return "; ".join(f"{name}: {cell}" for name, cell in zip(header, cells) if cell)
    return ", ".join(c for c in cells if c)


def _is_heading(sentence: str) -> bool:
    text = sentence.rstrip()
    return (not text.endswith((".", "!", "?", ":")) and "|" not in text and ":" not in text
            and len(words(text)) <= HEADING_MAX_WORDS)


def _with_marker(sentence: str, number: int) -> str:
    body = re.sub(r"\s*\n\s*", " ", sentence.rstrip())  # a sentence hard-wrapped in its source reads as one line
    end = ""
    if body and body[-1] in ".!?":
        body, end = body[:-1].rstrip(), body[-1]
    return f"{body} [{number}]{end or '.'}"


class ExtractiveGenerator:
    name = "extractive"
    is_llm = False

    def __init__(self, settings: Settings, embedder, scorer: RelevanceScorer | None = None):
        if embedder is None and scorer is None:
            raise GroundworkError("the extractive generator needs the platform embedder")
        self.settings = settings
        self.threshold = settings.answer_threshold
        self.max_sentences = settings.max_answer_sentences
        encoder = embedder if isinstance(embedder, SentenceEncoder) else SentenceEncoder(embedder)
        self.scorer = scorer or RelevanceScorer(encoder)

    # --- selection -----------------------------------------------------------------------
    def candidates(self, passages: list[Passage]) -> list[Candidate]:
        found: list[Candidate] = []
        for passage in passages:
            for order, span in enumerate(split_sentences(passage.text)):
                if len(words(span.text)) < MIN_WORDS or looks_like_injection(span.text) or _is_heading(span.text):
                    continue  # an instruction planted in a document is data, never part of an answer
                found.append(Candidate(passage, _readable(passage.text, span.start, span.text), order))
        return found

    def score(self, question: str, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        # Embedding every sentence of k chunks is the generator's main cost on chunks it has not seen before:
        # the top passages are always embedded, the others only where they share words with the question.
        always = {i for i, c in enumerate(candidates) if c.passage.number <= ALWAYS_EMBED_PASSAGES}
        scores = self.scorer.score(question, [c.text for c in candidates], always=always, embed_at_most=EMBED_AT_MOST)
        query_stems = content_stems(question)
        wants_quantity = bool(_ASKS_QUANTITY.search(question))
        for candidate, score in zip(candidates, scores):
            if wants_quantity and _STATES_QUANTITY.search(candidate.text):
                score += QUANTITY_BONUS
            chunk = candidate.passage.chunk
            context = content_stems(" ".join([chunk.title, *chunk.heading_path, candidate.text]))
            # A sentence under the heading "International transfers" answers a question naming them.
            candidate.score = float(score) + CONTEXT_WEIGHT * term_recall(query_stems, context) * (1 - self.scorer.dense_weight)

    def select(self, question: str, passages: list[Passage]) -> tuple[list[Candidate], float]:
        candidates = self.candidates(passages)
        self.score(question, candidates)
        return self._choose(question, candidates)

    def _choose(self, question: str, candidates: list[Candidate]) -> tuple[list[Candidate], float]:
        if not candidates:
            return [], 0.0
        ranked = _prefer_current(question, sorted(candidates, key=lambda c: -c.score), self.threshold)
        best = ranked[0].score
        chosen: list[Candidate] = []
        for candidate in ranked:
            if len(chosen) >= self.max_sentences or candidate.score < best - KEEP_WITHIN:
                break
            if any(fuzz.ratio(candidate.text, other.text) >= 90 for other in chosen):
                continue  # overlapping chunks repeat sentences
            chosen.append(candidate)
        return chosen, best

    def best_score(self, question: str, passages: list[Passage]) -> float:
        """The score the not-found threshold is compared with (used to calibrate it on a gold set)."""
        return self.select(question, passages)[1]

    # --- Generator protocol ----------------------------------------------------------------
    def stream(self, request: GenerationRequest) -> GenerationStream:
        return GenerationStream(self._run(request))

    def _run(self, request: GenerationRequest):
        candidates = self.candidates(request.passages)
        self.score(request.question, candidates)
        chosen, best = self._choose(request.question, candidates)
        # A broad question ("What is the refund policy?") about a retrieved document gets an overview of it, even
        # when no single sentence answers it well enough for the narrow path; "not found" stays for the rest.
        overview = compose_overview(request.question, candidates, self.max_sentences,
                                    allow_superseded=asks_about_the_past(request.question))
        if overview:
            chosen = overview
        tokens_in = count_tokens(request.question) + sum(p.tokens for p in request.passages)
        if not overview and (not chosen or best < self.threshold):
            yield NOT_FOUND
            return Generation(NOT_FOUND, self.name, tokens_in=tokens_in, tokens_out=count_tokens(NOT_FOUND),
                              found=False, best_score=best)
        pieces = []
        for i, candidate in enumerate(chosen):
            piece = _with_marker(candidate.text, candidate.passage.number)
            pieces.append(piece)
            yield piece if i == 0 else " " + piece
        text = " ".join(pieces)
        return Generation(text, self.name, tokens_in=tokens_in, tokens_out=count_tokens(text), best_score=best)

    def complete(self, messages: list[dict], max_tokens: int) -> str:
        raise GroundworkError("the extractive generator is not a language model; it cannot complete prompts")


def calibrate_threshold(answerable: list[float], unanswerable: list[float]) -> tuple[float, float]:
    """The not-found threshold that best separates best-sentence scores of answerable from unanswerable
    questions (balanced accuracy), and that accuracy. Candidates are midpoints between observed scores."""
    values = sorted(set(answerable) | set(unanswerable))
    if not answerable or not unanswerable:
        raise ValueError("calibration needs both answerable and unanswerable questions")
    cuts = [(a + b) / 2 for a, b in zip(values, values[1:])] or values
    pos, neg = np.asarray(answerable), np.asarray(unanswerable)
    best_cut, best_acc = cuts[0], -1.0
    for cut in cuts:
        accuracy = ((pos >= cut).mean() + (neg < cut).mean()) / 2
        if accuracy > best_acc + 1e-12:
            best_cut, best_acc = cut, accuracy
    return float(best_cut), float(best_acc)


def _prefer_current(question: str, ranked: list[Candidate], threshold: float) -> list[Candidate]:
    """Leave out sentences of superseded documents when a current one answers nearly as well as the best, or well
    enough to answer at all (at the not-found threshold): a superseded version wins only when nothing current answers.

    Otherwise an answer states the old and the new fee side by side as if both held, or the old one alone because its
    wording is closer to the question. A question about the past ("what was the fee in 2024?", "what changed?")
    keeps them.
    """
    if asks_about_the_past(question):
        return ranked
    current = [c for c in ranked if not c.passage.superseded]
    if current and current[0].score >= min(ranked[0].score - KEEP_WITHIN, threshold):
        return current
    return ranked
