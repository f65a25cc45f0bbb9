"""Browser: Chat keeps its collection, mode, k and open conversation when the analyst visits another page and comes
back, a reload reopens the conversation from ?conversation=<id>, and the conversation downloads as Markdown."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import assert_no_exception, wait_for_app
from tests.e2e.signin import accounts, sign_in  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts
SLOW_MS = 180_000  # a cold first answer loads the embedder and the PII analyzer on a shared 2-core machine
QUESTION = "What is the deadline for responding to a data subject access request?"


def _in_url(page) -> str | None:
    return (parse_qs(urlsplit(page.url).query).get("conversation") or [None])[0]


def _choices(page) -> tuple[str, str, str]:
    """The sidebar's collection, retrieval mode and k as the browser shows them."""
    collection = page.locator(".st-key-chat_collection input[role='combobox']").input_value()
    mode = page.locator(".st-key-chat_mode [role='radio'][aria-checked='true']").inner_text()
    k = page.locator(".st-key-chat_k input[type='range']").input_value()
    return collection, mode.strip(), k


def _shows_the_conversation(page) -> str:
    """The question and its cited answer on the page; returns the answer's text."""
    page.get_by_test_id("stChatMessage").filter(has_text=QUESTION).first.wait_for(timeout=SLOW_MS)
    answer = page.get_by_test_id("stChatMessage").filter(has=page.get_by_test_id("stChatMessageAvatarAssistant")).first
    answer.get_by_test_id("stExpander").filter(has_text="[1] ").first.wait_for(timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    return answer.get_by_test_id("stMarkdown").first.inner_text()


def test_chat_state_survives_navigation_and_a_reload(page, app_url, tmp_path):
    page.goto(app_url)
    wait_for_app(page, SLOW_MS)
    sign_in(page, "analyst", SLOW_MS)
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_text("Chat", exact=True).click()
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    defaults = _choices(page)
    assert defaults[1] == "hybrid"

    page.locator(".st-key-chat_mode").get_by_role("radio", name="bm25").click()
    wait_for_app(page)
    thumb = page.locator(".st-key-chat_k input[type='range']")
    thumb.focus()
    for _ in range(2):
        thumb.press("ArrowLeft")
    wait_for_app(page)
    chosen = _choices(page)
    assert chosen == (defaults[0], "bm25", str(int(defaults[2]) - 2)) and chosen[0] == "demo"

    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(QUESTION)
    box.press("Enter")
    answer = _shows_the_conversation(page)
    conversation = _in_url(page)
    assert conversation and len(conversation) == 32

    nav.get_by_text("Search explorer", exact=True).click()
    page.get_by_role("heading", name="Search explorer").wait_for(timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    assert page.get_by_test_id("stChatInputTextArea").count() == 0
    nav.get_by_text("Chat", exact=True).click()
    assert _shows_the_conversation(page) == answer
    assert _choices(page) == chosen and _in_url(page) == conversation
    assert_no_exception(page)

    page.reload()  # a new browser session of the same signed-in user: the URL reopens the conversation
    assert _shows_the_conversation(page) == answer
    assert _in_url(page) == conversation and _choices(page)[0] == "demo"
    assert page.locator(f".st-key-chat_title_{conversation} input").input_value() == QUESTION

    with page.expect_download(timeout=60_000) as download:
        page.locator(".st-key-chat_export_markdown").get_by_role("button").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert saved.name.endswith(f"-{conversation[:8]}.md") and text.startswith(f"# {QUESTION}")
    assert "- [1] Privacy and Data Subject Requests Policy" in text and "  > " in text
    assert_no_exception(page)
