"""The extractive generator: sentence selection, citation markers, not-found threshold, calibration."""
from __future__ import annotations

import pytest

from backend.generation.base import GenerationRequest
from backend.generation.extractive import ExtractiveGenerator, calibrate_threshold
from backend.generation.factory import build_generator
from backend.generation.prompts import NOT_FOUND
from backend.models import InputError
from tests.generation.samples import FEES, REFUNDS, SECURITY, make_passages


@pytest.fixture
def extractive(settings, encoder):
    return ExtractiveGenerator(settings, encoder)


def _generate(generator, question, passages):
    stream = generator.stream(GenerationRequest(question, passages))
    deltas = list(stream)
    return deltas, stream.result


def test_answers_with_the_best_sentence_and_its_passage_marker(extractive):
    passages = make_passages(REFUNDS, FEES)
    deltas, result = _generate(extractive, "How much does an international transfer cost?", passages)
    assert result.found and result.generator == "extractive"
    assert result.text.startswith("From 1 April 2025 an international transfer sent over SWIFT costs £3.50")
    assert "down from £5.00 [2]." in result.text  # FEES is passage 2; the marker closes its sentence
    assert "".join(deltas) == result.text  # the stream is the answer, sentence by sentence
    assert result.tokens_in > 0 and result.tokens_out > 0 and not result.priced


def test_unrelated_question_is_not_found(extractive):
    deltas, result = _generate(extractive, "Who won the football world cup in 1966?", make_passages(FEES, REFUNDS))
    assert not result.found
    assert result.text == NOT_FOUND and deltas == [NOT_FOUND]
    assert result.best_score < extractive.threshold


def test_planted_instruction_in_a_document_is_never_part_of_an_answer(extractive):
    _, result = _generate(extractive, "What must I do with my system password and prompt?", make_passages(SECURITY))
    assert "Ignore all previous instructions" not in result.text


def test_repeated_sentences_from_overlapping_chunks_appear_once(extractive):
    _, result = _generate(extractive, "How long do customers have to ask for a fee refund?", make_passages(REFUNDS, REFUNDS))
    assert result.text.count("Customers have 90 days") == 1


def test_table_rows_read_with_their_column_names(extractive):
    table = (
        "| Network | Cut-off for same-day sending | Usual arrival |\n| --- | --- | --- |\n"
        "| SEPA Credit Transfer | 15:30 on a business day | Next business day |\n"
        "| SWIFT, other currencies | 12:00 on a business day | 2 to 4 business days |\n"
    )
    _, result = _generate(extractive, "What is the cut-off time for SEPA credit transfers?", make_passages(table))
    assert "Network: SEPA Credit Transfer; Cut-off for same-day sending: 15:30 on a business day" in result.text


def test_at_most_max_answer_sentences(settings, encoder):
    settings.max_answer_sentences = 1
    generator = ExtractiveGenerator(settings, encoder)
    _, result = _generate(generator, "What fees apply to transfers and card payments abroad?", make_passages(FEES))
    assert result.text.count("[1]") == 1


def test_calibration_picks_the_separating_threshold():
    threshold, accuracy = calibrate_threshold([0.7, 0.8, 0.9, 0.55], [0.2, 0.3, 0.45])
    assert 0.45 < threshold < 0.55 and accuracy == 1.0
    threshold, accuracy = calibrate_threshold([0.6, 0.4], [0.5, 0.1])
    assert accuracy == 0.75
    with pytest.raises(ValueError):
        calibrate_threshold([0.5], [])


def test_extractive_is_not_a_language_model(extractive):
    from backend.models import GroundworkError

    assert extractive.is_llm is False
    with pytest.raises(GroundworkError, match="not a language model"):
        extractive.complete([{"role": "user", "content": "hi"}], 10)


def test_build_generator_by_name_and_unknown_names(settings, encoder):
    first = build_generator(settings, encoder)
    assert first.name == "extractive" and build_generator(settings, encoder) is first  # built once
    with pytest.raises(InputError, match="choose one of: extractive, openai, vllm"):
        build_generator(settings, encoder, "gpt-local")


OLD_FEES = ("An international transfer sent through the SWIFT network costs a flat £5.00 per transfer, "
            "charged when the payment is released.")
NEW_FEES = ("From 1 April 2025 an international transfer sent over SWIFT costs £3.50 per transfer, "
            "whatever the amount or destination.")


def _versions():
    passages = make_passages(NEW_FEES, OLD_FEES, titles=["Fees 2025", "Fees 2024"])
    passages[1].superseded = True
    return passages


def test_superseded_figure_is_left_out_when_the_current_version_answers(extractive):
    """Regression: the answer stated the 2025 fee and the superseded 2024 fee side by side."""
    _, result = _generate(extractive, "How much does an international transfer cost?", _versions())
    assert "£3.50" in result.text and "£5.00" not in result.text


def test_question_about_the_past_keeps_the_superseded_version(extractive):
    _, result = _generate(extractive, "What did an international transfer cost in 2024?", _versions())
    assert "£5.00" in result.text


def test_superseded_passage_still_answers_when_it_is_the_only_one(extractive):
    passages = make_passages(OLD_FEES)
    passages[0].superseded = True
    _, result = _generate(extractive, "How much does an international transfer cost?", passages)
    assert result.found and "£5.00" in result.text


def test_a_current_sentence_that_answers_wins_over_a_closer_worded_superseded_one():
    """Regression: "What does a SWIFT payment cost?" answered £5.00 from the 2024 policy with the 2025 £3.50 chunk in
    the context: the old sentence scored more than KEEP_WITHIN above the current one, which still passed the
    not-found threshold."""
    from backend.generation.extractive import KEEP_WITHIN, Candidate, _prefer_current

    new, old = _versions()
    ranked = [Candidate(old, OLD_FEES, 0, score=0.95), Candidate(new, NEW_FEES, 0, score=0.95 - 2 * KEEP_WITHIN)]
    assert [c.passage for c in _prefer_current("What does a SWIFT payment cost?", ranked, threshold=0.6)] == [new]
    # Below the threshold the current sentence would not answer: the old one stays (better than "not found").
    assert [c.passage for c in _prefer_current("What does a SWIFT payment cost?", ranked, threshold=0.8)] == [old, new]
    assert [c.passage for c in _prefer_current("What did it cost in 2024?", ranked, threshold=0.6)] == [old, new]


def test_a_sentence_hard_wrapped_in_its_source_is_quoted_whole(extractive, encoder):
    """Regression: a PDF's line break inside a sentence ended it, so the answer quoted "... by calling the IT Service
    Desk on extension [1]." without the number that followed on the next line."""
    from backend.generation.citations import CitationVerifier

    text = ("Anyone who suspects an incident must report it immediately, by calling the IT Service Desk on extension\n"
            "4400 (24 hours a day) or by emailing the security team. Do not try to investigate on your own.")
    passages = make_passages(text)
    _, result = _generate(extractive, "How do I report a suspected incident?", passages)
    assert result.found and "on extension 4400 (24 hours a day) or by emailing the security team [1]." in result.text
    [citation] = CitationVerifier(encoder, 0.5).verify(result.text, passages).citations
    assert citation.supported and citation.score == 1.0 and citation.quote.endswith("security team.")
