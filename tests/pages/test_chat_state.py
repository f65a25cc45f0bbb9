"""AppTest of Chat inside app.py's navigation: its choices and open conversation survive a visit to another page,
?conversation=<id> reopens only the caller's own, and the sidebar renames, searches, exports and deletes."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.signin import signed_in
from tests.pages.test_chat import FEES, REFUNDS, _clear_caches  # the page test's corpus

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
SWIFT = "How much does an international transfer cost?"
REFUND = "How long do customers have to ask for a fee refund?"


@pytest.fixture
def platform(data_dir, tmp_path):
    """The pages' own platform on this test's data dir: collection demo (fees) and collection refunds."""
    from components.platform import get_platform

    _clear_caches()
    for name, text in (("fees", FEES), ("refunds", REFUNDS)):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.md").write_text(text)
    instance = get_platform()
    instance.corpus.ingest([tmp_path / "fees"], collection="demo")
    instance.corpus.ingest([tmp_path / "refunds"], collection="refunds")
    yield instance
    instance.close()
    _clear_caches()


def _chat(user: str = "test-admin", query: dict | None = None) -> AppTest:
    """app.py (the navigation), then the Chat page in it, as `user` (an admin: every collection)."""
    app = signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT), user=user)
    _run(app)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    return _run(app.switch_page("pages/chat.py"))


def _run(target) -> AppTest:
    """Run the app (`target`: it, or one of its widgets after a click or set_value); the run must not raise."""
    app = target.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _ask(app: AppTest, question: str) -> AppTest:
    app.chat_input[0].set_value(question)
    return _run(app)


def _said(app: AppTest, name: str) -> list[str]:
    return ["\n".join(str(md.value) for md in m.markdown) for m in app.chat_message if m.name == name]


def _choices(app: AppTest) -> tuple:
    sidebar = app.sidebar
    return (sidebar.selectbox(key="chat_collection").value, sidebar.button_group(key="chat_mode").value,
            sidebar.slider(key="chat_k").value, sidebar.selectbox(key="chat_generator").value)


def _conversation_ids(platform, user: str = "test-admin") -> list[str]:
    return [r[0] for r in platform.store.query("SELECT id FROM conversations WHERE user_name = ? ORDER BY created_at",
                                               [user])]


def test_choices_and_the_open_conversation_survive_a_visit_to_another_page(platform):
    app = _chat()
    assert _choices(app) == ("demo", "hybrid", 5, "extractive")
    app.sidebar.selectbox(key="chat_collection").set_value("refunds")
    app.sidebar.button_group(key="chat_mode").set_value("bm25")
    app.sidebar.slider(key="chat_k").set_value(3)
    _ask(_run(app), REFUND)
    assert "90 days" in _said(app, "assistant")[-1]
    app.sidebar.selectbox(key="chat_generator").set_value("openai")
    _run(app)
    [conversation] = _conversation_ids(platform)
    assert app.query_params["conversation"] == conversation

    _run(app.switch_page("pages/home.py"))
    assert not app.chat_input and not [w for w in app.sidebar.selectbox if w.key == "chat_collection"]
    _run(app.switch_page("pages/chat.py"))
    assert _choices(app) == ("refunds", "bm25", 3, "openai")
    assert _said(app, "user") == [REFUND] and "90 days" in _said(app, "assistant")[0]
    assert app.query_params["conversation"] == conversation

    [new] = [b for b in app.sidebar.button if b.label == "New conversation"]
    _run(new.click())
    assert not app.chat_message and "conversation" not in app.query_params
    assert _choices(app) == ("refunds", "bm25", 3, "openai")  # a new conversation keeps the choices


def test_a_reload_reopens_the_callers_own_conversation_from_the_url_and_no_one_elses(platform):
    app = _ask(_chat(), REFUND)
    [conversation] = _conversation_ids(platform)
    answer = _said(app, "assistant")[-1]

    reloaded = _chat(query={"conversation": conversation})  # a new browser session: only the URL is left
    assert _said(reloaded, "user") == [REFUND] and _said(reloaded, "assistant") == [answer]
    assert reloaded.sidebar.selectbox(key="chat_collection").value == "demo"

    for other in ("other-admin", "test-admin"):
        wanted = conversation if other == "other-admin" else "0" * 32  # someone else's, then one that never was
        page = _chat(user=other, query={"conversation": wanted})
        assert [w.value for w in page.warning if "Conversation not found" in str(w.value)], other
        assert not page.chat_message and REFUND not in "\n".join(str(m.value) for m in page.markdown)
        assert "conversation" not in page.query_params


def test_rename_search_export_and_delete_from_the_sidebar(platform):
    app = _ask(_chat(), SWIFT)
    fees = _conversation_ids(platform)[0]
    _run(next(b for b in app.sidebar.button if b.label == "New conversation").click())
    app.sidebar.selectbox(key="chat_collection").set_value("refunds")
    _ask(_run(app), REFUND)
    refunds = _conversation_ids(platform)[1]

    title = app.sidebar.text_input(key=f"chat_title_{refunds}")
    assert title.value == REFUND
    title.set_value("Refund window for jane.roe@example.com")
    _run(next(b for b in app.sidebar.button if b.label == "Rename").click())
    stored = platform.store.scalar("SELECT title FROM conversations WHERE id = ?", [refunds])
    assert stored == "Refund window for <EMAIL_ADDRESS>"
    assert any("Renamed to" in str(s.value) for s in app.sidebar.success)
    assert app.sidebar.text_input(key=f"chat_title_{refunds}").value == stored
    title = app.sidebar.text_input(key=f"chat_title_{refunds}")
    _run(title.set_value("   "))
    _run(next(b for b in app.sidebar.button if b.label == "Rename").click())
    assert any("title: give the conversation a name" in str(e.value) for e in app.sidebar.error)

    past = app.sidebar.selectbox(key="chat_past")  # no search: this collection's conversations
    assert len(past.options) == 1 and past.options[0].startswith("Refund window for <EMAIL_ADDRESS> · 1 turn · ")
    _run(app.sidebar.text_input(key="chat_search").set_value("£3.50"))  # an answer's text, in the other collection
    past = app.sidebar.selectbox(key="chat_past")
    assert len(past.options) == 1 and past.options[0].startswith("demo · ")
    _run(past.set_value(fees))
    _run(next(b for b in app.sidebar.button if b.label == "Open conversation").click())
    assert _said(app, "user") == [SWIFT] and app.sidebar.selectbox(key="chat_collection").value == "demo"
    assert app.query_params["conversation"] == fees
    _run(app.sidebar.text_input(key="chat_search").set_value("nothing says this"))
    assert any("No conversation of yours holds that text" in str(c.value) for c in app.sidebar.caption)

    downloads = {b.proto.label for b in app.sidebar.get("download_button")}
    assert downloads == {"Markdown", "JSON"}  # built only when clicked (content: tests/test_conversations.py)

    _run(next(b for b in app.sidebar.button if b.label == "Delete conversation").click())
    assert any("cannot be undone" in str(w.value) for w in app.sidebar.warning)
    _run(app.sidebar.button(key="chat_delete_no").click())
    assert _conversation_ids(platform) == [fees, refunds] and _said(app, "user") == [SWIFT]
    _run(next(b for b in app.sidebar.button if b.label == "Delete conversation").click())
    _run(app.sidebar.button(key="chat_delete_yes").click())
    assert _conversation_ids(platform) == [refunds]
    assert platform.store.scalar("SELECT count(*) FROM messages WHERE conversation_id = ?", [fees]) == 0
    assert not app.chat_message and "conversation" not in app.query_params
    assert any("Deleted “How much does an international transfer cost?”" in str(s.value) for s in app.sidebar.success)
