"""Browser walk: ask a question in Chat (the real hot path), then find its trace and open the span waterfall."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_exception, wait_for_app
from tests.e2e.signin import accounts, open_page  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts

# The trace is made through the app: other browser tests may already have started it, and the app then holds
# the DuckDB file, so `python -m backend simulate` in a fixture could not write there.
QUESTION = "How long does a customer have to report a card payment they did not make?"


def test_a_chat_question_becomes_a_trace_with_a_waterfall(page, app_url):
    open_page(page, app_url, "chat", "Chat", role="operator")
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(QUESTION)
    box.press("Enter")
    wait_for_app(page, timeout_ms=300_000)
    page.get_by_test_id("stChatMessage").nth(1).wait_for(timeout=300_000)  # the question and its answer
    assert_no_exception(page)

    # Spans are written off the request thread, and the hot path may still be finishing (memory, cache)
    # after the last words were streamed: search again until the trace is there, as an operator would
    # (waiting for the search box alone let a search run before the trace was exported).
    search = page.get_by_role("textbox", name="Question, answer or trace id contains")
    for _ in range(30):
        open_page(page, app_url, "trace_explorer", "Trace explorer", role="operator")
        assert_no_exception(page)
        if search.count():
            search.fill("report a card payment")
            search.press("Enter")
            wait_for_app(page)
            # Its chart, not only its heading: a trace whose spans are still being written shows "no spans stored".
            if page.get_by_text("Waterfall").count() and page.get_by_test_id("stPlotlyChart").count():
                break
        page.wait_for_timeout(2000)
    page.get_by_text("Waterfall").wait_for(timeout=120_000)
    waterfall = page.get_by_test_id("stPlotlyChart").first
    waterfall.wait_for(timeout=120_000)  # Plotly draws late in a loaded browser (the full suite on 2 cores)
    # the waterfall's rows are the request and its pipeline stages, drawn by Plotly as SVG tick labels
    for stage in ("rag.ask", "redact", "bm25", "dense", "generate", "redact_answer"):
        assert waterfall.locator("text", has_text=stage).count() >= 1, stage
    assert waterfall.locator("rect, path.point, g.point").count() >= 6  # one bar per span
    page.locator("blockquote", has_text=QUESTION).wait_for()  # the redacted question, shown with the trace
    page.get_by_text("Retrieved chunks").wait_for()
    assert_no_exception(page)
