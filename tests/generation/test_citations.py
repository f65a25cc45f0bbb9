"""Citation verification: support scores, flagged unsupported citations, unknown markers removed."""
from __future__ import annotations

import pytest

from backend.generation.citations import CitationVerifier
from tests.generation.samples import FEES, REFUNDS, make_passages


@pytest.fixture
def verifier(encoder):
    return CitationVerifier(encoder, threshold=0.5)


def test_verbatim_sentence_is_fully_supported_with_exact_offsets(verifier):
    passages = make_passages(REFUNDS, FEES)
    answer = "Domestic transfers are free [2]."
    result = verifier.verify(answer, passages)
    [citation] = result.citations
    assert citation.supported and citation.score == 1.0
    assert citation.quote == "Domestic transfers are free."
    assert FEES[citation.quote_start:citation.quote_end] == citation.quote
    assert (citation.chunk_id, citation.document_id, citation.title) == (102, 12, "Document 2")
    assert citation.context == FEES and result.text == answer and not result.notices


def test_paraphrase_is_supported(verifier):
    answer = "A SWIFT international transfer costs £3.50 since 1 April 2025 [1]."
    [citation] = verifier.verify(answer, make_passages(FEES)).citations
    assert citation.supported and citation.score >= 0.5
    assert citation.quote.startswith("From 1 April 2025 an international transfer sent over SWIFT costs £3.50")


def test_citing_the_wrong_passage_is_flagged_never_shown_as_support(verifier):
    answer = "Refunds are paid back within 5 business days [2]."
    result = verifier.verify(answer, make_passages(REFUNDS, FEES))
    [citation] = result.citations
    assert not citation.supported and citation.score < 0.5
    assert "[2?]" in result.text and "[2]" not in result.text
    assert any("not supported" in notice for notice in result.notices)


def test_a_changed_figure_is_not_supported(verifier):
    answer = "Customers have 30 days from the date a fee first appears on their statement to ask for it to be refunded [1]."
    [citation] = verifier.verify(answer, make_passages(REFUNDS)).citations
    assert not citation.supported


def test_marker_of_a_passage_that_was_not_retrieved_is_removed(verifier):
    result = verifier.verify("Domestic transfers are free [1][7].", make_passages(FEES))
    assert result.text == "Domestic transfers are free [1]."
    assert [c.marker for c in result.citations] == [1]
    assert any("[7]" in notice for notice in result.notices)


def test_marker_after_the_full_stop_belongs_to_the_sentence_before(verifier):
    result = verifier.verify("Domestic transfers are free. [1]", make_passages(FEES))
    [citation] = result.citations
    assert citation.supported and citation.quote == "Domestic transfers are free."


def test_each_sentence_checked_against_its_own_citation(verifier):
    answer = "Domestic transfers are free [2]. Refunds are paid back to the original account within 5 business days [1]."
    result = verifier.verify(answer, make_passages(REFUNDS, FEES))
    assert [(c.marker, c.supported) for c in result.citations] == [(2, True), (1, True)]
    assert len(result.supported) == 2


def test_sentences_that_cite_nothing_are_counted_in_a_notice(verifier):
    """A real model often writes sentences without any marker: they are checked against nothing, and the reader
    is told so (before, only the 'not grounded' flag hinted at it)."""
    answer = ("Domestic transfers are free [1]. Our bank was founded over a century ago in London. "
              "It is the best bank in the country. In short:")
    result = verifier.verify(answer, make_passages(FEES))
    assert result.notices == ["2 sentences of this answer cite no passage, so nothing backs them; do not rely on them."]
    assert result.text == answer and [c.supported for c in result.citations] == [True]
    one = verifier.verify("Domestic transfers are free [1]. Customers love the app and use it daily.", make_passages(FEES))
    assert one.notices == ["1 sentence of this answer cites no passage, so nothing backs it; do not rely on it."]


def test_a_marker_closing_a_sentence_ends_it_even_before_a_lower_case_table_row(verifier):
    """Regression: "... 0.5% [2]. product: Everyday Account, fee: ... [3]." was checked as one claim against both
    passages, so two verbatim quotes were flagged [2?] and [3?] (a CSV row read out starts in lower case)."""
    row = "product: Everyday Account | fee: Foreign exchange margin | amount: 0.50 | currency: PCT"
    passages = make_passages(FEES, row)
    answer = ("Domestic transfers are free [1]. "
              "product: Everyday Account, fee: Foreign exchange margin, amount: 0.50, currency: PCT [2].")
    result = verifier.verify(answer, passages)
    assert [(c.marker, c.supported) for c in result.citations] == [(1, True), (2, True)]
    assert result.text == answer and not result.notices
