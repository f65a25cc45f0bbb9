"""Broad questions get a cited overview of the document they are about; narrow and unanswerable ones keep their paths."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from backend.generation.base import GenerationRequest, Passage
from backend.generation.citations import CitationVerifier
from backend.generation.context import assemble_context
from backend.generation.encoder import RelevanceScorer
from backend.generation.extractive import ExtractiveGenerator, _with_marker
from backend.generation.overview import _quotable, broad_subject, focus_passages
from backend.generation.prompts import NOT_FOUND
from backend.models import Chunk
from backend.platform import Platform
from backend.settings import Settings
from backend.text.sentences import content_stems, count_tokens

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
# The two documents asked about, with neighbours that share their words (fees name refunds, the Code of Conduct
# has "code" for "dress code", the Acceptable Use Policy mentions passwords) and a superseded version.
DOCUMENTS = ("refunds-and-chargebacks.md", "password-and-mfa-standard.md", "fees-and-charges-2024.md",
             "fees-and-charges-2025.md", "code-of-conduct.md", "acceptable-use-policy.md", "complaints-handling-policy.md")
REFUNDS = "Refunds, Disputes and Chargebacks Policy"
PASSWORDS = "Password and Multi-Factor Authentication Standard"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("overview")
    docs = root / "docs"
    docs.mkdir()
    for name in DOCUMENTS:
        (docs / name).write_text((DEMO / name).read_text(encoding="utf-8"), encoding="utf-8")
    platform = Platform(Settings(data_dir=root / "data"))
    platform.corpus.ingest([docs], collection="demo")
    yield platform
    platform.close()


def _ask(platform, question):
    return platform.chat.ask(question, "demo", remember=False, use_cache=False)


@pytest.mark.parametrize("question, title", [
    ("What is the refund policy?", REFUNDS),
    ("Summarise the password rules", PASSWORDS),
    ("Give me an overview of the password standard", PASSWORDS),
])
def test_broad_question_gets_an_overview_of_its_document_with_supported_citations(platform, question, title):
    answer = _ask(platform, question)
    assert answer.found and answer.text != NOT_FOUND
    supported = [c for c in answer.citations if c.supported]
    assert len(supported) >= 2 and len(supported) == len(answer.citations)
    assert {c.title for c in answer.citations} == {title}
    assert answer.grounded and "?]" not in answer.text  # no citation flagged unsupported by the verifier
    quotes = [c.quote for c in answer.citations]
    assert len(set(quotes)) == len(quotes)  # distinct points, each quoted once


def test_overview_sentences_are_verbatim_and_each_ends_with_its_marker(platform):
    answer = _ask(platform, "Summarise the password rules")
    for citation in answer.citations:
        assert f"{citation.quote.rstrip('.')} [{citation.marker}]." in answer.text
        assert citation.score == 1.0  # a verbatim quote: the verifier found it exactly


def test_pii_before_a_broad_question_does_not_stop_the_overview(platform):
    answer = _ask(platform, "My email is sam.taylor@example.com, what is the refund policy?")
    assert answer.found and {c.title for c in answer.citations} == {REFUNDS}
    assert len([c for c in answer.citations if c.supported]) >= 2
    assert "sam.taylor@example.com" not in answer.text


def test_broad_question_about_fees_quotes_only_the_current_version(platform):
    answer = _ask(platform, "What is the fees and charges policy?")
    assert answer.found and answer.citations
    assert {c.title for c in answer.citations} == {"Fees and Charges Policy (2025)"}


@pytest.mark.parametrize("question", [
    "What is the mortgage lending policy?",  # no document is about mortgages
    "What is the dress code policy?",  # the Code of Conduct's title has "code", but no passage mentions dress
    "Tell me about the company pension scheme",
    "What is Northwind Ledger's current share price?",  # narrow and unanswerable: unchanged
])
def test_questions_the_corpus_cannot_answer_are_still_not_found(platform, question):
    answer = _ask(platform, question)
    assert not answer.found and answer.text == NOT_FOUND and not answer.citations


def test_narrow_question_keeps_the_narrow_answer(platform):
    """A narrow question's answer is exactly the sentences the narrow path selects, not an overview."""
    question = "How long does a customer have to raise a card dispute for goods that never arrived?"
    assert broad_subject(question) == set()
    settings = platform.settings
    encoder = platform.chat.encoder
    hits = platform.chat.retrieve(question, "demo", settings.retrieval_mode, settings.top_k)
    passages = assemble_context(hits, question, settings.context_token_budget, scorer=RelevanceScorer(encoder)).passages
    generator = ExtractiveGenerator(settings, encoder)
    chosen, best = generator.select(question, passages)
    assert best >= generator.threshold
    result = generator.stream(GenerationRequest(question, passages)).collect()
    assert result.found
    assert result.text == " ".join(_with_marker(c.text, c.passage.number) for c in chosen)
    assert "120 days" in result.text
    verification = CitationVerifier(encoder, settings.citation_support_threshold).verify(result.text, passages)
    assert verification.citations and all(c.supported for c in verification.citations)
    assert {c.title for c in verification.citations} == {REFUNDS}


# --- the decision, on passages built by hand ------------------------------------------------------------------
@pytest.mark.parametrize("question, subject", [
    ("What is the refund policy?", "refund"),
    ("Summarise the password rules", "password"),
    ("summarize the password rules.", "password"),
    ("Give me an overview of the whistleblowing policy", "whistleblowing"),
    ("Tell me about the savings accounts", "savings accounts"),
    ("What are the rules on gifts and hospitality?", "gifts hospitality"),
    ("What does the access control standard say?", "access control"),
    ("What does the code of conduct say about gifts?", "code conduct gifts"),
    ("My email is <EMAIL_ADDRESS>, what is the refund policy?", "refund"),
])
def test_broad_forms_and_their_subject(question, subject):
    assert broad_subject(question) == content_stems(subject)


@pytest.mark.parametrize("question", [
    "How much does an international transfer cost?",
    "What is the minimum password length for a standard staff account?",
    "What is the deadline for responding to a data subject access request?",
    "Explain why payments staff must take 10 consecutive days of leave",
    "Tell me about the policy",  # a broad form with no subject
    "When did the 2025 Fees and Charges Policy take effect, and what does it replace?",
])
def test_narrow_forms_are_not_broad(question):
    assert broad_subject(question) == set()


def _passage(number: int, document_id: int, title: str, text: str, heading: str = "", superseded: bool = False) -> Passage:
    chunk = Chunk(id=number, document_id=document_id, collection="test", tenant="default", ordinal=number, text=text,
                  token_count=count_tokens(text), char_start=0, char_end=len(text),
                  heading_path=(title, heading) if heading else (title,), title=title, source=f"doc{document_id}.md")
    return Passage(number, chunk, text, chunk.token_count, 1.0 / number, superseded)


def test_focus_is_the_document_whose_title_names_the_subject():
    passages = [
        _passage(1, 1, "Fees and Charges Policy", "Refunds of fees charged in error are paid within 90 days."),
        _passage(2, 2, "Refunds Policy", "Unauthorised payments are refunded by the next business day.", "Scope"),
        _passage(3, 2, "Refunds Policy", "Goodwill refunds need approval by amount.", "Goodwill"),
    ]
    assert [p.number for p in focus_passages(content_stems("refund"), passages, False)] == [2, 3]
    assert focus_passages(content_stems("mortgage"), passages, False) == []
    # Half the subject named by a title is enough only when a passage also mentions the rest.
    assert focus_passages(content_stems("refund approval"), passages, False)[0].number == 3
    assert focus_passages(content_stems("refund dress"), passages, False) == []


def test_a_superseded_version_is_never_the_focus_unless_the_question_asks_about_the_past():
    old = _passage(1, 1, "Fees Policy (2024)", "An international transfer costs £5.00.", superseded=True)
    new = _passage(2, 2, "Fees Policy (2025)", "An international transfer costs £3.50.")
    assert focus_passages(content_stems("fees"), [old, new], False) == [new]
    assert focus_passages(content_stems("fees"), [old], False) == []
    assert focus_passages(content_stems("fees 2024"), [old, new], True) == [old]


class _Sentence:
    def __init__(self, passage: Passage, text: str):
        self.passage, self.text, self.order, self.score = passage, text, 0, 0.5


def test_only_whole_prose_sentences_are_quoted():
    wrapped = ("It implements the UK Money Laundering Regulations 2017, the Proceeds of Crime Act and the Terrorism Act\n"
               "2002 and the Irish Criminal Justice Act 2010 apply to Northwind Ledger Europe Ltd.\n"
               "1. Purpose\nThis policy sets the minimum standards for knowing who our customers are.\n"
               "Owner: Money Laundering Reporting Officer (MLRO).\n"
               "On top of that, we may pay compensation for distress and inconvenience.")
    passage = _passage(1, 1, "AML Policy", wrapped)
    assert not _quotable(_Sentence(passage, "2002 and the Irish Criminal Justice Act 2010 apply to Northwind Ledger Europe Ltd."))
    assert _quotable(_Sentence(passage, "This policy sets the minimum standards for knowing who our customers are."))
    assert not _quotable(_Sentence(passage, "Owner: Money Laundering Reporting Officer (MLRO)."))
    assert not _quotable(_Sentence(passage, "On top of that, we may pay compensation for distress and inconvenience."))
    # A table row as the generator rewrites it is not in the chunk verbatim.
    rewritten = replace(passage, chunk=replace(passage.chunk, text="| Up to £50 | Customer Support agent |"))
    assert not _quotable(_Sentence(rewritten, "Amount: Up to £50; Who can approve: Customer Support agent."))
