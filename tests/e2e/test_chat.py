"""Browser test of the chat page on the demo corpus: ask, see a cited answer, open the citation, follow up, rate."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_for_app
from tests.e2e.signin import accounts, sign_in  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts
SLOW_MS = 180_000  # a cold first answer loads the embedder and the PII analyzer on a shared 2-core machine


def _assistant(page, n: int):
    return page.get_by_test_id("stChatMessage").filter(has=page.get_by_test_id("stChatMessageAvatarAssistant")).nth(n)


def _ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def test_ask_cite_open_follow_up_and_rate(page, app_url):
    page.goto(app_url)
    wait_for_app(page, SLOW_MS)
    sign_in(page, "analyst", SLOW_MS)  # the demo collection is granted to the analyst's group
    page.get_by_test_id("stSidebarNav").get_by_text("Chat", exact=True).click()
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)

    _ask(page, "What is the deadline for responding to a data subject access request?")
    first = _assistant(page, 0)
    card = first.get_by_test_id("stExpander").filter(has_text="[1] ").first
    card.wait_for(timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    assert "[1]" in first.get_by_test_id("stMarkdown").first.inner_text()
    assert "Privacy and Data Subject Requests Policy" in card.inner_text()

    card.locator("summary").click()  # open the citation: the quoted span is highlighted inside its chunk
    quote = card.locator("mark.gw-quote").first
    quote.wait_for()
    assert quote.is_visible() and len(quote.inner_text()) > 20
    assert quote.inner_text() in card.locator(".gw-chunk").first.inner_text()

    _ask(page, "Can it be extended?")  # meaningless without the first turn
    second = _assistant(page, 1)
    second.get_by_text("two further months").first.wait_for(timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)

    second.get_by_role("radio", name="Thumbs down").click()
    comment = second.get_by_label("Comment (optional)")
    comment.wait_for()
    comment.fill("The answer should say one calendar month first.")
    comment.press("Enter")
    second.get_by_text("your comment was recorded").wait_for(timeout=60_000)
    assert second.get_by_role("radio", name="Thumbs down").get_attribute("aria-checked") == "true"
    assert not page.get_by_test_id("stException").count()
