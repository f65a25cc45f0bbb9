"""Search explorer, corpus overview, upload and collections pages (AppTest) over a real data dir."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.platform import Platform
from tests.pages.conftest import page_corpus, pages_on, run
from tests.pages.signin import signed_in
from tests.pages.test_corpus_documents import click
from tests.test_corpus_views import _doc

ROOT = Path(__file__).resolve().parents[2]


def page(name: str) -> str:
    return str(ROOT / "pages" / f"corpus_{name}.py")


def open_in_app(name: str) -> AppTest:
    """The page inside app.py's navigation (its links to other pages need the navigation to exist)."""
    app = run(signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)))
    app.switch_page(f"pages/corpus_{name}.py")
    return run(app)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    yield from page_corpus(tmp_path_factory, "corpus-views-pages")


def test_search_explorer_puts_three_rankings_side_by_side(corpus):
    app = open_in_app("search")
    assert any("Type a query" in i.value for i in app.info)
    app.selectbox(key="search_collection").set_value("policies")
    app.text_input(key="q").set_value("international transfer fees")
    app.slider(key="search_k").set_value(3)
    run(app)
    assert any("BM25 saw: `internat` `transfer` `fee`" in m.value for m in app.markdown)
    headers = [m.value for m in app.markdown if m.value.startswith("**")]
    assert headers[:3] == ["**BM25 (lexical)**", "**Dense (embeddings)**", "**Fused (what hybrid retrieval returns)**"]
    cards = [h.value for h in app.html]
    assert len(cards) == 8  # three dense and three fused; only the two fees chunks contain a query term for BM25
    assert all("BM25" in c and "dense" in c and "fused" in c for c in cards)
    assert any("<mark" in c and ">Fees</mark>" in c for c in cards)
    assert any("Superseded documents are in these results: Fees Policy (2024)" in w.value for w in app.warning)
    table = app.dataframe[0].value
    assert {"BM25 rank", "dense rank", "fused rank", "BM25 score", "dense score", "fused score"} <= set(table.columns)

    app.selectbox(key="search_open_document").set_value((corpus["Fees Policy (2025)"], "Fees Policy (2025)"))
    run(app)
    link = app.get("page_link")[0].proto
    assert link.label == "Open “Fees Policy (2025)” in Documents"
    assert link.query_string == f"doc={corpus['Fees Policy (2025)']}"

    app.toggle(key="search_exclude_superseded").set_value(True)
    run(app)
    assert any("Left out as superseded: Fees Policy (2024)" in i.value for i in app.info)
    assert not any("(2024)" in h.value for h in app.html)

    app.text_input(key="q").set_value("x" * 5000)
    run(app)
    assert any("over the limit" in e.value for e in app.error)


def test_overview_sections(corpus):
    app = signed_in(AppTest.from_file(page("overview"), default_timeout=180))
    run(app)
    assert {m.label: m.value for m in app.metric} == {"Documents": "9", "Chunks": app.metric[1].value,
                                                      "Tokens": app.metric[2].value}
    assert len(app.get("plotly_chart")) == 2
    app.button_group(key="section").set_value("Chunk lengths")
    run(app)
    assert len(app.get("plotly_chart")) == 1
    assert any("over the chunk target of 200" in c.value and "254 word pieces" in c.value for c in app.caption)
    app.button_group(key="section").set_value("Ingest history")
    run(app)
    assert len(app.dataframe[0].value) == 3
    app.button_group(key="section").set_value("Near-duplicates")
    run(app)
    assert any("Group 1" in m.value for m in app.markdown)
    assert set(app.dataframe[0].value["title"]) == {"Heron survey", "Heron survey (copy)"}
    app.button_group(key="section").set_value("Embedding map")
    run(app)
    assert len(app.get("plotly_chart")) == 1
    assert any(c.value.startswith("Showing all") for c in app.caption)
    app.selectbox(key="overview_collection").set_value("notes")
    run(app)
    assert {m.label: m.value for m in app.metric}["Documents"] == "3"


def test_upload_reports_every_file(settings, monkeypatch):
    with Platform(settings) as platform:
        platform.corpus.ingest_records("demo", [_doc("a.md", "Alpha", "alpha text")])
    with pages_on(monkeypatch, settings.data_dir):
        app = open_in_app("upload")
        app.radio(key="upload_kind").set_value("A new collection")
        run(app)
        app.text_input(key="upload_new_name").set_value("birds")
        app.file_uploader(key="upload_files_0").set_value([
            ("heron.md", b"# Heron\n\nHerons migrate along the estuary.", "text/markdown"),
            ("kestrel.txt", b"Kestrels nested in seven boxes.", "text/plain"),
            ("broken.pdf", b"%PDF-1.7 not really", "application/pdf"),
        ])
        run(app)
        assert app.button(key="upload_start").label == "Ingest 3 files into birds"
        click(app, "upload_start")
        job = app.session_state["upload_job"]
        assert job.wait(300)
        run(app)  # the fragment saw the end: one more run shows the final state
        run(app)
        assert any("2 ingested · 1 failed" in w.value for w in app.warning)
        assert any(e.value.startswith("**broken.pdf**: is a corrupt or unreadable PDF") for e in app.error)
        outcomes = app.dataframe[0].value
        assert list(outcomes["outcome"]) == ["ingested", "ingested", "failed"]
        assert app.radio(key="upload_kind").value == "An existing collection"
        assert app.selectbox(key="upload_existing").value == "birds"
        assert app.button(key="upload_start").disabled  # the uploader was emptied

        app.radio(key="upload_kind").set_value("A new collection")
        run(app)
        app.text_input(key="upload_new_name").set_value("bad name!")
        app.file_uploader(key="upload_files_1").set_value([("x.md", b"# X\n\nx", "text/markdown")])
        run(app)
        click(app, "upload_start")
        assert any("collection name 'bad name!'" in e.value for e in app.error)

        app.switch_page("pages/corpus_search.py")
        run(app)  # the default collection is preselected, though "birds" sorts first
        assert app.selectbox(key="search_collection").value == "demo"


def test_collections_create_rename_and_delete_when_empty(settings, monkeypatch):
    with Platform(settings) as platform:
        platform.corpus.ingest_records("full", [_doc("a.md", "Alpha", "alpha text")])
    with pages_on(monkeypatch, settings.data_dir):
        app = signed_in(AppTest.from_file(page("collections"), default_timeout=120))
        run(app)
        app.text_input[0].set_value("scratch")
        app.button[0].click()  # the create form's submit button
        run(app)
        assert any("Created collection scratch" in s.value for s in app.success)
        assert list(app.dataframe[0].value["collection"]) == ["full", "scratch"]

        app.selectbox(key="delete_collection_name").set_value("full")
        run(app)
        assert app.button(key="delete_collection").disabled
        assert any("holds 1 document(s)" in c.value for c in app.caption)

        app.selectbox(key="delete_collection_name").set_value("scratch")
        run(app)
        click(app, "delete_collection")
        click(app, "confirm_delete_collection")
        assert any("Deleted collection scratch" in s.value for s in app.success)
        assert list(app.dataframe[0].value["collection"]) == ["full"]
        assert app.get("download_button")  # exports offered for the remaining collection


def test_search_explorer_marks_weak_matches_of_a_nonsense_query(corpus):
    # QA: a nonsense query ranked dense hits at cosine ~0.07 with no hint that none of them is a match
    app = open_in_app("search")
    app.selectbox(key="search_collection").set_value("policies")
    app.text_input(key="q").set_value("zxqv blorf")
    run(app)
    assert any("No real match" in c.value for c in app.caption)
    cards = [h.value for h in app.html]
    assert cards and all("weak match" in c for c in cards)

    app.text_input(key="q").set_value("international transfer fees")
    run(app)
    assert not any("No real match" in c.value for c in app.caption)
    assert any("weak match" not in h.value and ">Fees</mark>" in h.value for h in app.html)
