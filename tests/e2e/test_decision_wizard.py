"""Browser walk through the decision wizard: a bad answer, the five questions, the recommendation, both exports."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_exception, wait_for_app
from tests.e2e.signin import accounts, open_page  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts


def _answer(page, label: str, value: str) -> None:
    field = page.get_by_role("textbox", name=label, exact=True)
    field.fill(value)
    field.press("Tab")


def test_wizard_walks_to_an_exported_report(page, app_url):
    open_page(page, app_url, "decision_wizard", "RAG or fine-tuning?", role="stakeholder")
    page.get_by_text("Answer the questions and press").wait_for()

    # A unit nobody plans in gets a message naming the field, not a stack trace.
    _answer(page, "5. What latency is required?", "2 fortnights")
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text("latency requirement: unknown unit 'fortnights'").wait_for()
    assert_no_exception(page)

    # The example: weekly changes, citations, style on top of knowledge, 200 examples, 2 s.
    _answer(page, "1. How often does the knowledge change?", "weekly")
    page.get_by_text("Both: answer from documents, in our style").click()
    _answer(page, "4. How many training examples exist?", "200 examples")
    _answer(page, "5. What latency is required?", "2s")
    _answer(page, "Queries per month", "100k")
    page.get_by_role("button", name="Analyse").click()
    wait_for_app(page)
    page.get_by_text("Hybrid: RAG + a LoRA adapter").first.wait_for()
    page.get_by_text("Cost projections at 100,000 queries a month").wait_for()
    assert_no_exception(page)

    with page.expect_download() as markdown_download:
        page.get_by_role("button", name="Download Markdown").click()
    markdown = markdown_download.value
    assert markdown.suggested_filename == "decision-report.md"
    text = open(markdown.path(), encoding="utf-8").read()
    assert "## Recommendation: Hybrid: RAG + a LoRA adapter (hybrid)" in text
    assert "- LLM input tokens: 100,000 requests x 1,000 tokens x $2.50/1M = $250" in text

    with page.expect_download() as pdf_download:
        page.get_by_role("button", name="Download PDF").click()
    pdf = pdf_download.value
    assert pdf.suggested_filename == "decision-report.pdf"
    with open(pdf.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
