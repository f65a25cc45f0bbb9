"""Sign-in, sign-out and the role -> pages policy (AppTest over app.py and single pages)."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from backend.gateway.identity import Unauthorized
from components.navigation import ROLE_PAGES
from tests.pages.conftest import run, texts
from tests.pages.signin import PASSWORD, TOKEN_KEY, ensure_user, signed_in

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")

EXPECTED = {
    "admin": {"home", "chat", "corpus_documents", "corpus_upload", "corpus_search", "corpus_overview",
              "corpus_collections", "operations", "trace_explorer", "drift", "evaluation", "eval_runs",
              "cost_explorer", "capacity_planner", "decision_wizard", "admin", "privacy_requests"},
    "operator": {"home", "chat", "corpus_documents", "corpus_upload", "corpus_search", "corpus_overview",
                 "corpus_collections", "operations", "trace_explorer", "drift", "evaluation", "eval_runs"},
    "analyst": {"home", "chat", "corpus_documents", "corpus_search"},
    "stakeholder": {"home", "cost_explorer", "capacity_planner", "decision_wizard", "operations"},
}


@pytest.fixture(autouse=True)
def navigation_calls(monkeypatch):
    """Every st.navigation call of app.py, as the set of page file stems it was given (AppTest runs in-process)."""
    calls: list[set[str]] = []
    original = st.navigation

    def recording(pages, **kwargs):
        listed = pages.values() if isinstance(pages, dict) else [pages]
        calls.append({Path(str(p._page)).stem for group in listed for p in group if p.visibility == "visible"})
        return original(pages, **kwargs)

    monkeypatch.setattr(st, "navigation", recording)
    return calls


@pytest.fixture
def nav_pages(navigation_calls):
    """The pages the last run of app.py put in its navigation."""
    return lambda app: navigation_calls[-1]


def sign_in_with(app: AppTest, user: str, password: str) -> AppTest:
    app.text_input(key="gw_sign_in_user").set_value(user)
    app.text_input(key="gw_sign_in_password").set_value(password)
    [submit] = [b for b in app.button if b.label == "Sign in"]
    submit.click()
    return run(app)


def test_nobody_signed_in_sees_only_the_sign_in_page(nav_pages, platform):
    app = run(AppTest.from_file(APP, default_timeout=60))
    assert nav_pages(app) == {"sign_in"}
    assert any(t.value == "Sign in to Groundwork" for t in app.title)
    assert not app.metric and not app.dataframe


@pytest.mark.parametrize("page", ["home", "chat", "admin", "corpus_documents", "cost_explorer"])
def test_a_page_opened_without_signing_in_shows_the_sign_in_form(platform, page):
    app = run(AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60))
    assert app.text_input(key="gw_sign_in_user") is not None
    assert not app.metric and not app.dataframe and not app.chat_input


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_exactly_its_pages(nav_pages, platform, role):
    assert set(ROLE_PAGES[role]) == EXPECTED[role]
    app = run(signed_in(AppTest.from_file(APP, default_timeout=120), role))
    assert nav_pages(app) == EXPECTED[role]
    sidebar = "\n".join(m.value for m in app.sidebar.markdown)
    assert f"test-{role}" in sidebar and role in sidebar
    assert [b.label for b in app.sidebar.button if b.key == "gw_sign_out"] == ["Sign out"]


@pytest.mark.parametrize(("role", "page"), [("analyst", "admin"), ("analyst", "corpus_upload"),
                                            ("stakeholder", "chat"), ("operator", "cost_explorer"),
                                            ("operator", "admin"), ("stakeholder", "corpus_documents")])
def test_a_disallowed_page_says_not_allowed(platform, role, page):
    app = run(signed_in(AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60), role))
    assert any("not allowed for your role" in e.value and role in e.value for e in app.error)
    assert not app.metric and not app.dataframe and not app.chat_input and not app.text_input


def test_wrong_password_shows_the_gateways_message(nav_pages, platform):
    ensure_user(platform, "ann", "analyst")
    app = run(AppTest.from_file(APP, default_timeout=60))
    sign_in_with(app, "ann", "not the password")
    assert any("wrong user name or password" in e.value for e in app.error)
    assert TOKEN_KEY not in app.session_state and nav_pages(app) == {"sign_in"}
    for _ in range(platform.settings.sign_in_max_failures):
        sign_in_with(app, "ann", "still wrong")
    assert any("too many failed sign-ins" in e.value for e in app.error)  # throttled: a message, no traceback


def test_sign_in_then_sign_out_ends_the_session(nav_pages, platform):
    ensure_user(platform, "ann", "analyst")
    app = run(AppTest.from_file(APP, default_timeout=120))
    sign_in_with(app, "ann", PASSWORD)
    token = app.session_state[TOKEN_KEY]
    assert platform.gateway.resolve_session(token).user == "ann"
    assert not app.error
    # AppTest runs a multipage app's later runs on the page alone, so the navigation is checked on a new run of
    # app.py in a browser session holding that token (the real server runs app.py every time).
    again = AppTest.from_file(APP, default_timeout=120)
    again.session_state[TOKEN_KEY] = token
    run(again)
    assert nav_pages(again) == EXPECTED["analyst"]
    again.button(key="gw_sign_out").click()
    run(again)
    assert TOKEN_KEY not in again.session_state
    assert "You signed out." in texts(again) and again.text_input(key="gw_sign_in_user") is not None
    with pytest.raises(Unauthorized):
        platform.gateway.resolve_session(token)
    assert platform.gateway.audit_log(action="sign_out")[0]["target"] == "ann"


def test_a_session_ended_elsewhere_takes_effect_on_the_next_run(nav_pages, platform):
    app = run(signed_in(AppTest.from_file(APP, default_timeout=120), "operator"))
    assert nav_pages(app) == EXPECTED["operator"]
    platform.gateway.disable_user("test-operator")
    run(app)
    assert TOKEN_KEY not in app.session_state and app.text_input(key="gw_sign_in_user") is not None
    assert "sign in again" in texts(app) and not app.metric
