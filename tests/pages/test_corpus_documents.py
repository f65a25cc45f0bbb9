"""Documents page (AppTest): filters, sort and paging, the document view and its actions, behind confirmation dialogs."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.platform import Platform
from tests.pages.conftest import page_corpus, pages_on, run
from tests.pages.signin import signed_in
from tests.test_corpus_views import _doc

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "corpus_documents.py")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    yield from page_corpus(tmp_path_factory, "corpus-documents-page")


def click(app: AppTest, key: str) -> AppTest:
    app.button(key=key).click()
    return run(app)


def table_titles(app: AppTest) -> list[str]:
    return list(app.dataframe[0].value["title"])


def test_table_filters_sorts_and_pages(corpus):
    app = run(signed_in(AppTest.from_file(PAGE, default_timeout=120)))
    assert len(table_titles(app)) == 9
    assert any("1–9 of 9 documents" in c.value for c in app.caption)

    app.text_input(key="docs_search").set_value("fees")
    run(app)
    assert sorted(table_titles(app)) == ["Fees Policy (2024)", "Fees Policy (2025)"]
    assert dict(zip(app.dataframe[0].value["title"], app.dataframe[0].value["status"])) == {
        "Fees Policy (2024)": "superseded", "Fees Policy (2025)": "current"}

    app.text_input(key="docs_search").set_value("")
    app.selectbox(key="docs_collection").set_value("notes")
    app.selectbox(key="docs_sort").set_value("title")
    run(app)
    assert table_titles(app) == ["100%_done checklist", "Kestrel boxes", "Ringing dates"]  # titles sort A to Z first
    app.toggle(key="docs_desc_title").set_value(True)
    run(app)
    assert table_titles(app) == ["Ringing dates", "Kestrel boxes", "100%_done checklist"]

    app.selectbox(key="docs_collection").set_value("All collections")
    app.multiselect(key="docs_statuses").set_value(["superseded"])
    run(app)
    assert table_titles(app) == ["Fees Policy (2024)"]
    app.multiselect(key="docs_statuses").set_value([])
    app.multiselect(key="docs_types").set_value(["application/pdf"])
    run(app)
    assert table_titles(app) == ["Staff handbook"]




def test_document_view_shows_each_part(corpus):
    app = signed_in(AppTest.from_file(PAGE, default_timeout=120))
    app.query_params["doc"] = str(corpus["Fees Policy (2025)"])
    run(app)
    assert any(s.value == "Fees Policy (2025)" for s in app.subheader)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Version"] == "2" and metrics["Chunks"] == "1"
    assert any("supersedes fees-2024.md" in i.value for i in app.info)
    # The preview masks personal data; the default NER model takes Europe for a place.
    assert any("Transfers to &lt;LOCATION&gt; are free." in h.value for h in app.html)

    app.button_group(key="view").set_value("Chunks")
    run(app)
    chunks = app.dataframe[-1].value
    assert list(chunks["#"]) == [1] and chunks["tokens"][0] > 0

    app.button_group(key="view").set_value("Versions")
    run(app)
    diff = next(c.value for c in app.code)
    assert "+Transfers to <LOCATION> are free." in diff
    assert any("+1 lines" in m.value for m in app.markdown)

    app.button_group(key="view").set_value("Metadata")
    run(app)
    assert any('"supersedes"' in j.value for j in app.json)


def test_document_view_masks_personal_data(corpus):
    app = signed_in(AppTest.from_file(PAGE, default_timeout=180))
    app.query_params["doc"] = str(corpus["Privacy contacts"])
    app.query_params["view"] = "Personal data"
    run(app)
    counts = app.dataframe[-1].value
    assert dict(zip(counts["entity type"], counts["findings"])) == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    masked = " ".join(h.value for h in app.html)
    assert "&lt;EMAIL_ADDRESS&gt;" in masked and "privacy.officer@example.com" not in masked
    assert any(m.value.startswith("**2 findings**") for m in app.markdown)

    app.query_params["doc"] = str(corpus["Fees Policy (2024)"])
    run(app)
    assert any("Superseded by fees-2025.md" in w.value for w in app.warning)


def test_delete_move_and_reingest_ask_first(settings, monkeypatch, tmp_path):
    source = tmp_path / "otter.md"
    source.write_text("# Otters\n\nOtters were seen at the weir twice this month.\n")
    with Platform(settings) as platform:
        platform.corpus.ingest([source], "mammals")
        platform.corpus.ingest_records("mammals", [_doc("vole.md", "Water voles", "Water voles returned to the ditch.")])
        otter = platform.corpus.documents("mammals", title_contains="Otters")[0]["id"]
        vole = platform.corpus.documents("mammals", title_contains="voles")[0]["id"]
    with pages_on(monkeypatch, settings.data_dir):
        app = signed_in(AppTest.from_file(PAGE, default_timeout=120))
        app.query_params["doc"] = str(otter)
        run(app)
        source.write_text("# Otters\n\nOtters were seen at the weir three times this month.\n")
        click(app, "doc_reingest")
        assert any("new version 2" in s.value for s in app.success)

        click(app, "doc_delete")
        assert any("Its 1 chunk leaves DuckDB" in c.value for c in app.caption)  # the dialog, not a deletion yet
        click(app, "cancel_delete_document")
        from components.platform import get_platform

        assert get_platform().corpus.document(otter).status == "active"

        click(app, "doc_move")
        app.radio(key="move_target_kind").set_value("A new collection")
        run(app)
        app.text_input(key="move_target_new").set_value("archive")
        run(app)
        click(app, "confirm_move")
        assert any("Moved “Otters” from mammals to archive" in s.value for s in app.success)
        assert get_platform().corpus.document(otter).collection == "archive"

        app.query_params["doc"] = str(vole)
        run(app)
        click(app, "doc_delete")
        click(app, "confirm_delete_document")
        assert any("Deleted “Water voles”" in s.value for s in app.success)
        assert get_platform().corpus.document(vole).status == "deleted"
        assert "doc" not in app.query_params
        assert get_platform().retriever.search("water voles ditch", "mammals", mode="bm25") == []


def test_pager_walks_pages_and_resets_on_a_new_filter(settings, monkeypatch):
    with Platform(settings) as platform:
        platform.corpus.ingest_records("many", [_doc(f"n{n:02d}.md", f"Note {n:02d}", f"Field note number {n} on wader {n}.")
                                         for n in range(30)])
    with pages_on(monkeypatch, settings.data_dir):
        app = signed_in(AppTest.from_file(PAGE, default_timeout=120))
        run(app)
        app.selectbox(key="docs_sort").set_value("title")
        app.selectbox(key="docs_page_size").set_value(25)
        run(app)
        assert table_titles(app) == [f"Note {n:02d}" for n in range(25)]
        assert any("1–25 of 30 documents" in c.value for c in app.caption)
        app.pagination[0].set_value(2)
        run(app)
        assert table_titles(app) == [f"Note {n:02d}" for n in range(25, 30)]
        assert any("26–30 of 30 documents" in c.value for c in app.caption)
        app.text_input(key="docs_search").set_value("Note 1")
        run(app)
        assert table_titles(app) == [f"Note {n:02d}" for n in range(10, 20)] and not app.pagination


def test_preview_chunks_and_diff_mask_personal_data(settings, monkeypatch):
    # QA: the Personal data tab masked, but the preview, the chunk texts and the version diff showed it in clear
    with Platform(settings) as platform:
        platform.corpus.ingest_records("people", [_doc("desk.md", "Help desk", "Mail helpdesk@example.com for access.")])
        platform.corpus.ingest_records("people", [_doc(
            "desk.md", "Help desk",
            "Mail helpdesk@example.com for access.\nUrgent: write to night.shift@example.com instead.")])
        platform.corpus.ingest_records("people", [_doc("door.md", "Door", "Ring the porter at porter@example.com.")])
        desk = platform.corpus.documents("people", title_contains="Help")[0]["id"]
        first = platform.corpus.documents("people", title_contains="Door")[0]["id"]
    with pages_on(monkeypatch, settings.data_dir):
        app = signed_in(AppTest.from_file(PAGE, default_timeout=180))
        app.query_params["doc"] = str(desk)
        run(app)
        preview = " ".join(h.value for h in app.html)
        assert "Mail" in preview and "@example.com" not in preview and "&lt;EMAIL_ADDRESS&gt;" in preview

        app.button_group(key="view").set_value("Chunks")
        run(app)
        chunk_text = " ".join(app.dataframe[-1].value["text"])
        assert "Urgent" in chunk_text and "@example.com" not in chunk_text

        app.button_group(key="view").set_value("Versions")
        run(app)
        diff = next(c.value for c in app.code)
        assert "+Urgent: write to <EMAIL_ADDRESS> instead." in diff and "@example.com" not in diff

        app.button_group(key="view").set_value("Personal data")
        run(app)
        assert any(m.value.startswith("**2 findings**") for m in app.markdown)
        app.query_params["doc"] = str(first)
        run(app)
        assert any(m.value.startswith("**1 finding**") for m in app.markdown)  # QA: read "1 findings"


def test_small_sizes_read_in_bytes_and_a_short_diff_gets_a_short_box():
    from components.corpus_common import code_height, human_bytes

    assert human_bytes(80) == "80 B" and human_bytes(12_700) == "12.4 KB" and human_bytes(3_300_000) == "3.1 MB"
    assert code_height("--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new") == "content"
    assert code_height("\n".join(["+line"] * 200)) == 480


def test_documents_table_shows_sizes_in_units(corpus):
    app = run(signed_in(AppTest.from_file(PAGE, default_timeout=120)))
    sizes = list(app.dataframe[0].value["size_bytes"])
    assert sizes and all(s.endswith((" B", " KB", " MB")) for s in sizes) and "0.0 KB" not in sizes


def test_updated_column_sits_next_to_the_title(corpus):
    # QA: at 1400 px "updated" (last column) was cut off behind a wide "file" column
    app = run(signed_in(AppTest.from_file(PAGE, default_timeout=120)))
    assert list(app.dataframe[0].value.columns[:2]) == ["title", "updated_at"]
