"""Shared pieces of the page tests (AppTest): the pages' own platform on a test's data dir, opening and running pages."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from backend.platform import Platform
from backend.settings import Settings, get_settings
from tests.pages.signin import signed_in

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


@pytest.fixture
def platform(data_dir):
    """The pages' own cached platform, on this test's data dir (AppTest runs pages in this process)."""
    from components.platform import get_platform

    get_platform.clear()
    instance = get_platform()
    yield instance
    instance.close()
    get_platform.clear()


def run(app: AppTest) -> AppTest:
    """One script run that must not raise."""
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def open_page(name: str, query: dict | None = None, timeout: float = TIMEOUT) -> AppTest:
    """pages/<name>.py run once, optionally with query parameters (deep links)."""
    app = signed_in(AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=timeout))
    for key, value in (query or {}).items():
        app.query_params[key] = value
    return run(app)


def texts(app: AppTest, kinds: tuple[str, ...] = ("markdown", "caption", "info", "warning", "error")) -> str:
    """Every message on the page as one string."""
    return "\n".join(str(e.value) for kind in kinds for e in app.get(kind))


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def _use_data_dir(monkeypatch, path: Path) -> None:
    monkeypatch.setenv("GROUNDWORK_DATA_DIR", str(path))
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()


def _release() -> None:
    from components.platform import get_platform

    try:
        get_platform().close()  # the page's cached Platform holds the DuckDB file open
    finally:
        st.cache_resource.clear()
        get_settings.cache_clear()


@contextmanager
def pages_on(monkeypatch, data_dir: Path):
    """Pages opened inside the block use this data dir; their cached Platform is closed after it."""
    _use_data_dir(monkeypatch, data_dir)
    try:
        yield
    finally:
        _release()


def page_corpus(tmp_path_factory, name: str):
    """A module's read-only corpus (build_corpus) that the pages open through GROUNDWORK_DATA_DIR; yields title -> id."""
    from tests.test_corpus_views import build_corpus

    path = tmp_path_factory.mktemp(name)
    with Platform(Settings(data_dir=path)) as platform:
        ids = build_corpus(platform)
    with pytest.MonkeyPatch.context() as monkeypatch, pages_on(monkeypatch, path):
        yield ids
