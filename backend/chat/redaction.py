"""Redaction on the chat path: what a request searches with, and citations as the user sees them."""
from __future__ import annotations

from backend.models import Citation

# What a search loses when redacted: "<LOCATION>" for "London" or "<PERSON>" for a name in a worked example loses the
# answer (bench/bench_pii.py, the demo gold set). An e-mail address, a number or an id is noise to a search instead.
NAMES_AND_PLACES = frozenset({"PERSON", "LOCATION"})
# Kept in answers and their citations: a place a document names ("before 15:00 UK time", "Hotels in London are
# limited to £200") is not personal data on its own, and masking it left answers unreadable ("15:00 <LOCATION>
# time"). A street address is STREET_ADDRESS and stays redacted, and so do names. The question keeps its place
# redacted wherever it is stored or sent (a user's own place can be personal), so an answer cannot echo it.
KEPT_IN_ANSWERS = frozenset({"LOCATION"})


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


def redact_citation(redactor, citation: Citation) -> Citation:
    """Quote and chunk text as the user sees them: redacted as answers are, with the quote's offsets inside the
    redacted chunk."""
    context = citation.context or citation.quote
    quote = redact_answer(redactor, citation.quote).text
    redacted_context = redact_answer(redactor, context).text
    start = redacted_context.find(quote)
    if start < 0:  # redaction changed the quote's surroundings: show the quote alone
        redacted_context, start = quote, 0
    citation.quote, citation.context = quote, redacted_context
    citation.quote_start, citation.quote_end = start, start + len(quote)
    return citation
