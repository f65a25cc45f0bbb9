"""AppTest of the Chat page's tool calls: a computed figure with the call in the answer's details, and a proposed
ticket with Approve and Dismiss buttons that opens it only on approval."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.store.tickets import tickets_for
from tests.pages.signin import identity_of
from tests.pages.test_chat import _ask, _clear_caches, _page  # the chat page harness (an admin's session)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def platform(data_dir, tmp_path):
    """The page's own cached platform on this test's data dir, with the demo's current fees policy alone."""
    from components.platform import get_platform

    _clear_caches()
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / "data" / "demo" / "fees-and-charges-2025.md", docs)
    instance = get_platform()
    instance.corpus.ingest([docs], collection="demo")
    yield instance
    instance.close()
    _clear_caches()


def _ran(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _assistant(app: AppTest, index: int = -1):
    return [m for m in app.chat_message if m.name == "assistant"][index]


def _tickets(platform) -> list[dict]:
    with platform.store.cursor() as cur:
        return tickets_for(cur, None, limit=100)


def test_a_computed_figure_shows_its_tool_call_in_the_details(platform):
    app = _ask(_page(), "What do three SWIFT transfers cost?")
    answer = _assistant(app)
    assert "Three SWIFT transfers cost £10.50 (3 × £3.50" in "\n".join(str(md.value) for md in answer.markdown)
    [details] = [e for e in answer.expander if e.label.startswith("Details")]
    shown = "\n".join(str(md.value) for md in details.markdown)
    assert "**Tool calls** (1)" in shown and "`calculate` · ok ·" in shown and " ms" in shown
    codes = [str(c.value) for c in details.code]
    assert any('"expression": "3 * 3.50"' in c for c in codes) and "3 * 3.50 = 10.50" in codes
    assert not [b for b in app.button if b.key and b.key.startswith("approve-")]  # nothing waits for approval


def test_a_ticket_waits_for_approval_and_opens_once_approved(platform):
    app = _ask(_page(), "My SWIFT transfer was charged twice, please open a ticket.")
    answer = _assistant(app)
    assert any("I can hand this over to a person" in str(md.value) for md in answer.markdown)
    [approve] = [b for b in app.button if b.key and b.key.startswith("approve-")]
    [dismiss] = [b for b in app.button if b.key and b.key.startswith("dismiss-")]
    assert approve.label == "Approve" and dismiss.label == "Dismiss"
    assert approve.proto.type == "secondary" and dismiss.proto.type == "secondary"  # not a green call to action
    assert any('"title": "My SWIFT transfer was charged twice"' in str(c.value) for c in answer.code)
    assert _tickets(platform) == []  # proposed, not written

    approve.click()
    _ran(app)
    [ticket] = _tickets(platform)
    assert [str(s.value) for s in app.success] == [f"Ticket #{ticket['id']} opened"]
    identity = identity_of(app, platform)
    assert ticket["tenant"] == identity.tenant and ticket["created_by"] == identity.user
    assert not [b for b in app.button if b.key and b.key.startswith("approve-")]  # decided: no second ticket
    details = [e for e in _assistant(app).expander if e.label.startswith("Details")][0]
    assert "`create_ticket` · ok ·" in "\n".join(str(md.value) for md in details.markdown)


def test_a_dismissed_ticket_is_never_opened(platform):
    app = _ask(_page(), "Could you hand this over to a human?")
    [dismiss] = [b for b in app.button if b.key and b.key.startswith("dismiss-")]
    dismiss.click()
    _ran(app)
    assert _tickets(platform) == []
    assert any("Not run: dismissed by" in str(c.value) for c in app.caption)
    assert not [b for b in app.button if b.key and b.key.startswith("approve-")]
