"""AppTest of the Chat page under the gateway's rules: an over-quota or rate-limited question gets a clear message,
no model call and nothing stored; an answered one is charged to the tenant's month."""
from __future__ import annotations

import pytest

from backend.gateway.metered import UI_CHAT_ROUTE
from tests.pages.signin import identity_of
from tests.pages.test_chat import FEES, _ask, _clear_caches, _page

QUESTION = "How much does an international transfer cost?"


@pytest.fixture
def platform(data_dir, tmp_path, monkeypatch):
    """The Chat page's own platform on this test's data dir, one question a minute per user, the fees policy."""
    from components.platform import get_platform

    monkeypatch.setenv("GROUNDWORK_RATE_LIMIT_PER_MINUTE", "1")
    _clear_caches()
    (tmp_path / "fees.md").write_text(FEES)
    instance = get_platform()
    instance.corpus.ingest([tmp_path / "fees.md"], collection="demo")
    yield instance
    instance.close()
    _clear_caches()


def _stored(platform) -> tuple[int, int, int]:
    """(conversations, messages, traces): what an asked question leaves in the store."""
    platform.tracer.flush()
    return tuple(platform.store.scalar(f"SELECT count(*) FROM {table}")  # type: ignore[return-value]
                 for table in ("conversations", "messages", "traces"))


def test_an_over_quota_tenant_gets_the_quota_message_and_nothing_is_asked_or_stored(platform):
    tenant = platform.settings.default_tenant
    platform.gateway.set_quota(tenant, monthly_tokens=0, actor="test-admin")
    app = _page()
    _ask(app, QUESTION)
    [message] = [str(e.value) for e in app.error]
    assert "monthly quota is used up" in message and f"tenant '{tenant}' has used 0 of its 0 monthly tokens" in message
    assert "Admin page" in message
    assert app.session_state["chat"]["turns"] == [] and _stored(platform) == (0, 0, 0)
    assert platform.gateway.usage(tenant)["requests"] == 0

    platform.gateway.set_quota(tenant, actor="test-admin")  # lifted: the same page answers, and is charged for it
    platform.gateway.limits.reset()  # the refused question used this minute's one request
    _ask(app, QUESTION)
    [turn] = app.session_state["chat"]["turns"]
    assert "£3.50" in turn["answer"]["text"]
    used = platform.gateway.usage(tenant)
    assert used["requests"] == 1 and used["tokens"] == turn["answer"]["tokens_in"] + turn["answer"]["tokens_out"] > 0


def test_a_rate_limited_question_says_when_to_retry_and_stores_nothing(platform):
    app = _page()
    platform.gateway.check_rate(identity_of(app), UI_CHAT_ROUTE)  # this minute's one question is used
    _ask(app, QUESTION)
    [warning] = [str(w.value) for w in app.warning]
    assert "Too many questions" in warning and "Try again in" in warning and "1 requests per minute" in warning
    assert not app.error
    assert app.session_state["chat"]["turns"] == [] and _stored(platform) == (0, 0, 0)
    assert platform.gateway.usage(platform.settings.default_tenant)["requests"] == 0
