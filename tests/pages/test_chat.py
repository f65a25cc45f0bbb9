"""AppTest of the chat page: ask, stream, cite, follow up, rate, reopen, bad input, empty state."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.signin import signed_in

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
FEES = """# Fees and Charges Policy

## Transfers

Domestic transfers are free for personal customers. From 1 April 2025 an international transfer sent over SWIFT
costs £3.50 per transfer, whatever the amount or destination.
"""
REFUNDS = """# Refunds Policy

Customers have 90 days from the date a fee first appears on their statement to ask for it to be refunded.
"""


def _clear_caches():
    from components.chat_turn import _warm_chat
    from components.platform import get_platform

    get_platform.clear()
    _warm_chat.clear()


@pytest.fixture
def platform(data_dir, tmp_path):
    """The page's own cached platform on this test's data dir, with a two-document collection."""
    from components.platform import get_platform

    _clear_caches()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fees.md").write_text(FEES)
    (docs / "refunds.md").write_text(REFUNDS)
    instance = get_platform()
    instance.corpus.ingest([docs], collection="demo")
    yield instance
    instance.close()
    _clear_caches()


def _page() -> AppTest:
    app = signed_in(AppTest.from_file(str(ROOT / "pages" / "chat.py"), default_timeout=TIMEOUT))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _ask(app: AppTest, question: str) -> AppTest:
    app.chat_input[0].set_value(question).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _assistant_text(app: AppTest, index: int = -1) -> str:
    message = [m for m in app.chat_message if m.name == "assistant"][index]
    return "\n".join(str(md.value) for md in message.markdown)


def test_ask_stream_cite_follow_up_and_rate(platform):
    app = _page()
    assert app.sidebar.selectbox[0].value == "demo" and app.sidebar.slider[0].value == 5
    _ask(app, "How much does an international transfer cost?")
    assert "£3.50" in _assistant_text(app) and "[1]" in _assistant_text(app)
    cards = [e for e in app.expander if e.label.startswith("[1] Fees and Charges Policy")]
    assert cards and "support 1.00" in cards[0].label
    html = [h.proto.body for h in app.get("html")]
    assert any('<mark class="gw-quote"' in body and "£3.50 per transfer" in body for body in html)
    details = [e for e in app.expander if e.label.startswith("Details")]
    assert details and "cached: no" in details[0].label
    assert app.get("dataframe")  # per-stage timings

    _ask(app, "What does a domestic transfer cost?")
    _ask(app, "and for international transfers?")
    assert "£3.50" in _assistant_text(app)
    assert len([m for m in app.chat_message if m.name == "user"]) == 3  # history re-rendered from session state

    app.get("feedback")[0].set_value(0).run()
    assert not app.exception
    comment = [t for t in app.text_input if t.key.startswith("comment-")][0]
    comment.set_value("wrong figure").run()
    rows = platform.store.query("SELECT score, comment FROM feedback")
    assert rows == [(0, "wrong figure")]


def test_unanswerable_and_bad_questions_say_so(platform):
    app = _page()
    _ask(app, "Which football team does the chief executive support?")
    assert "Not found in the documents" in _assistant_text(app)
    _ask(app, "x" * 20_000)
    assert any("over the limit of 4,000" in str(e.value) for e in app.error)
    _ask(app, "   ")
    assert not app.exception


def test_pii_in_a_question_is_shown_and_stored_redacted(platform):
    app = _page()
    _ask(app, "My email is jane.roe@example.com, how long do I have to ask for a fee refund?")
    user = [m for m in app.chat_message if m.name == "user"][-1]
    assert "<EMAIL_ADDRESS>" in user.markdown[0].value and "jane.roe" not in user.markdown[0].value
    assert "90 days" in _assistant_text(app)
    assert platform.store.scalar("SELECT count(*) FROM messages WHERE content LIKE '%jane.roe%'") == 0


def test_past_conversation_reopens_from_the_store(platform):
    app = _page()
    _ask(app, "How long do customers have to ask for a fee refund?")
    first_answer = _assistant_text(app)
    app.sidebar.button[0].click().run()  # new conversation
    assert not [m for m in app.chat_message]
    [conversation] = [row[0] for row in platform.store.query("SELECT id FROM conversations")]
    app.sidebar.selectbox(key="chat_past").set_value(conversation).run()
    [open_button] = [b for b in app.sidebar.button if b.label == "Open conversation"]
    open_button.click().run()
    assert not app.exception
    assert _assistant_text(app) == first_answer


def test_unusable_generator_gives_a_clear_message(platform):
    app = _page()
    app.sidebar.selectbox(key="chat_generator").set_value("vllm").run()
    _ask(app, "How much does an international transfer cost?")
    assert any("GROUNDWORK_GENERATOR=extractive" in str(e.value) for e in app.error)


def test_empty_state_explains_how_to_ingest(data_dir):
    _clear_caches()
    try:
        app = _page()
        assert any("make demo" in str(i.value) for i in app.info)
    finally:
        from components.platform import get_platform

        get_platform().close()
        _clear_caches()
