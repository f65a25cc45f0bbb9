"""Browser: issue 13 in Chat as an analyst: a fee times a count answered by the calculate tool and shown in the
answer's details, and a ticket proposed, approved with one click, and opened."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS, assert_no_exception, open_expander, wait_for_app
from tests.e2e.signin import accounts, open_page  # noqa: F401 - accounts: the fixture seeding the users
from tests.e2e.test_chat_walkthrough import SLOW_MS, ask, text_of

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]


def test_a_calculation_and_an_approved_ticket(page, app_url):
    open_page(page, app_url, "chat", "Chat", role="analyst")
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=SLOW_MS)

    answer = ask(page, "What do three SWIFT transfers cost?")
    assert text_of(answer).startswith("Three SWIFT transfers cost £10.50 (3 × £3.50 [1])")
    open_expander(answer.get_by_test_id("stExpander").filter(has_text="Details ·"),
                  answer.get_by_text(re.compile(r"Tool calls \(1\)")))
    answer.get_by_text("3 * 3.50 = 10.50").wait_for()  # the call's result, drawn in its code block
    page.screenshot(path=str(ARTIFACTS / "chat-tool-call.png"), full_page=True)

    proposal = ask(page, "My SWIFT transfer was charged twice, please open a ticket.")
    approve = proposal.get_by_role("button", name="Approve")
    approve.wait_for()
    page.screenshot(path=str(ARTIFACTS / "chat-ticket-proposal.png"), full_page=True)
    approve.click()
    wait_for_app(page, SLOW_MS)
    # the approval's own notice (the conversation list may show the same words as a title)
    page.get_by_test_id("stAlertContentSuccess").get_by_text(re.compile(r"Ticket #\d+ opened")).wait_for(timeout=SLOW_MS)
    assert_no_exception(page)
    assert proposal.get_by_role("button", name="Approve").count() == 0  # decided once
