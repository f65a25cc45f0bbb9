"""Corpus browser queries over a real store: paging and filters in SQL, detail, diffs, PII, search explanation, overview, exports, uploads."""
from __future__ import annotations

import io
import tomllib
from datetime import date, timedelta
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from backend.corpus.document_detail import chunk_rows, document_detail, preview_sections, version_diff
from backend.corpus.document_list import DocumentPage, DocumentQuery, document_facets, document_page
from backend.corpus.export import export_chunks, export_documents
from backend.corpus.overview import chunk_lengths, corpus_breakdown, embedding_map, ingest_history, near_duplicate_groups
from backend.corpus.privacy import pii_report
from backend.corpus.search_explorer import RETRIEVERS, explain_search, highlight_segments
from backend.corpus.upload import describe, start_upload, uploads_dir
from backend.ingest.items import FileOutcome
from backend.models import InputError, LoadedDocument, Section
from backend.platform import Platform
from backend.retrieval.lexical import LexicalIndex
from backend.settings import PROJECT_ROOT, Settings

HERON = " ".join(
    f"The {bird} survey on day {n} counted {n * 3} birds near the {place} hide before the tide turned."
    for n, (bird, place) in enumerate(
        [("heron", "north"), ("egret", "south"), ("curlew", "east"), ("avocet", "west"), ("plover", "reed"),
         ("godwit", "marsh"), ("redshank", "creek"), ("dunlin", "spit"), ("knot", "bank"), ("teal", "pool")] * 3,
        start=1)
)


def _doc(source: str, title: str, text: str, mime: str = "text/markdown", **metadata) -> LoadedDocument:
    return LoadedDocument(source=source, title=title, mime_type=mime, text=text, metadata=metadata)


def _handbook() -> LoadedDocument:
    pages = ["Leave\nStaff get 25 days of annual leave.", "Sickness\nReport sickness before 9am."]
    text = "\n".join(pages)
    second = len(pages[0]) + 1
    return LoadedDocument(source="handbook.pdf", title="Staff handbook", mime_type="application/pdf", text=text,
                          sections=[Section(0, len(pages[0]), 1, ("Staff handbook", "Leave")),
                                    Section(second, len(text), 2, ("Staff handbook", "Sickness"))])


def build_corpus(platform: Platform) -> dict[str, int]:
    """'policies': two fees policies (superseded/current, the current one in two versions), a contact sheet with
    personal data, a sectioned handbook, and a near-duplicate pair; 'notes': three text notes. Returns title -> id."""
    platform.corpus.ingest_records("policies", [
        _doc("fees-2024.md", "Fees Policy (2024)", "Fees for international transfers: each transfer costs 5 pounds.",
             status="superseded", superseded_by="fees-2025.md", superseded_on="2025-04-01"),
        _doc("fees-2025.md", "Fees Policy (2025)", "Fees for international transfers: each transfer costs 3 pounds.",
             status="current", supersedes="fees-2024.md"),
        _doc("contacts.md", "Privacy contacts",
             "Write to the privacy officer at privacy.officer@example.com or call 020 7946 0958 on weekdays."),
        _handbook(),
        _doc("heron.md", "Heron survey", HERON),
        _doc("heron-copy.md", "Heron survey (copy)", HERON.replace("tide turned.", "tide had turned.", 1)),
    ])
    platform.corpus.ingest_records("notes", [
        _doc(f"note-{n}.txt", title, f"Note {n}: {body}", mime="text/plain")
        for n, (title, body) in enumerate([
            ("Kestrel boxes", "kestrels nested in seven boxes"), ("100%_done checklist", "every box was checked"),
            ("Ringing dates", "ringing starts in May"),
        ])
    ])
    platform.corpus.ingest_records("policies", [
        _doc("fees-2025.md", "Fees Policy (2025)",
             "Fees for international transfers: each transfer costs 3 pounds.\nTransfers to Europe are free.",
             status="current", supersedes="fees-2024.md"),
    ])
    return {row["title"]: row["id"] for row in platform.corpus.documents(status=None, limit=None)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One read-only corpus for the query tests (each mutating test builds its own in its own data dir)."""
    with Platform(Settings(data_dir=tmp_path_factory.mktemp("corpus-views"))) as platform:
        ids = build_corpus(platform)
        yield platform, ids


def titles(page: DocumentPage) -> list[str]:
    return [row["title"] for row in page.rows]


def test_document_page_filters_sorts_and_pages_in_sql(corpus):
    platform, ids = corpus
    everything = document_page(platform, DocumentQuery(order_by="title", descending=False))
    assert everything.total == 9 and everything.pages == 1
    assert titles(everything) == sorted(titles(everything), key=str.lower)
    first = document_page(platform, DocumentQuery(order_by="title", descending=False, page=1, page_size=4))
    second = document_page(platform, DocumentQuery(order_by="title", descending=False, page=2, page_size=4))
    last = document_page(platform, DocumentQuery(order_by="title", descending=False, page=9, page_size=4))
    assert (first.pages, first.first, first.last) == (3, 1, 4)
    assert titles(first) + titles(second) + titles(last) == titles(everything)
    assert last.page == 3 and (last.first, last.last) == (9, 9)  # a page past the end shows the last one

    assert titles(document_page(platform, DocumentQuery(collection="notes", order_by="title", descending=False))) == [
        "100%_done checklist", "Kestrel boxes", "Ringing dates"]
    # % and _ are literal characters in the search box, not LIKE wildcards
    assert titles(document_page(platform, DocumentQuery(search="100%_"))) == ["100%_done checklist"]
    assert document_page(platform, DocumentQuery(search="0%d")).total == 0
    assert document_page(platform, DocumentQuery(search="HERON-COPY.MD")).total == 1  # file names too
    pdfs = document_page(platform, DocumentQuery(mime_types=("application/pdf",)))
    assert titles(pdfs) == ["Staff handbook"] and pdfs.rows[0]["type"] == "PDF"
    statuses = document_page(platform, DocumentQuery(statuses=("superseded", "current"), order_by="title"))
    assert {r["title"]: r["status"] for r in statuses.rows} == {
        "Fees Policy (2025)": "current", "Fees Policy (2024)": "superseded"}

    by_chunks = document_page(platform, DocumentQuery(order_by="chunks"))
    counts = [r["chunks"] for r in by_chunks.rows]
    assert counts == sorted(counts, reverse=True) and all(c >= 1 for c in counts)
    heron = next(r for r in by_chunks.rows if r["title"] == "Heron survey")
    assert heron["chunks"] == len(platform.corpus.chunks(ids["Heron survey"]))
    assert heron["tokens"] == sum(c.token_count for c in platform.corpus.chunks(ids["Heron survey"]))

    today = date.today()
    assert document_page(platform, DocumentQuery(updated_from=today, updated_to=today)).total == 9
    assert document_page(platform, DocumentQuery(updated_to=today - timedelta(days=1))).total == 0
    with pytest.raises(InputError, match="sort"):
        document_page(platform, DocumentQuery(order_by="text; DROP TABLE documents"))

    facets = document_facets(platform, "policies")
    assert facets["types"] == {"text/markdown": 5, "application/pdf": 1}
    assert facets["statuses"] == {"active": 4, "current": 1, "superseded": 1}


def test_deleted_documents_leave_the_table_unless_asked_for(settings):
    with Platform(settings) as platform:
        platform.corpus.ingest_records("c", [_doc("a.md", "Alpha", "alpha text here"), _doc("b.md", "Beta", "beta text here")])
        alpha = platform.corpus.documents("c", title_contains="Alpha")[0]["id"]
        platform.corpus.delete_document(alpha)
        assert titles(document_page(platform, DocumentQuery())) == ["Beta"]
        deleted = document_page(platform, DocumentQuery(statuses=("deleted",)))
        assert titles(deleted) == ["Alpha"] and deleted.rows[0]["chunks"] == 0
        assert document_detail(platform, alpha).status == "deleted"


def test_document_detail_versions_diff_and_status(corpus):
    platform, ids = corpus
    current = document_detail(platform, ids["Fees Policy (2025)"])
    assert current.status == "current" and current.notice == "Current version; supersedes fees-2024.md."
    assert [v["version"] for v in current.versions] == [1, 2] and current.document.version == 2
    diff = version_diff(platform, current.document.id, 1, 2)
    assert (diff.added, diff.removed) == (1, 0) and not diff.identical
    assert "+Transfers to <LOCATION> are free." in diff.unified and "--- version 1" in diff.unified  # places masked
    assert version_diff(platform, current.document.id, 2, 2).identical
    with pytest.raises(InputError, match="no version 7"):
        version_diff(platform, current.document.id, 1, 7)

    old = document_detail(platform, ids["Fees Policy (2024)"])
    assert old.superseded and old.file == "fees-2024.md"
    assert old.notice.startswith("Superseded by fees-2025.md on 2025-04-01")


def test_preview_keeps_pages_and_headings_and_cuts_long_text(corpus):
    platform, ids = corpus
    sections, cut = preview_sections(platform.corpus.document(ids["Staff handbook"]))
    assert sections == [("Page 1 · Staff handbook › Leave", "Staff get 25 days of annual leave."),
                        ("Page 2 · Staff handbook › Sickness", "Report sickness before 9am.")] and not cut
    sections, cut = preview_sections(platform.corpus.document(ids["Heron survey"]), max_chars=100)
    assert cut and len(sections[0][1]) <= 100


def test_chunk_rows_carry_tokens_page_and_heading_path(corpus):
    platform, ids = corpus
    rows = chunk_rows(platform, ids["Staff handbook"])
    assert rows and rows[0]["#"] == 1 and rows[0]["page"] == 1
    assert rows[0]["heading path"].startswith("Staff handbook")
    assert all(r["tokens"] > 0 for r in rows)


def test_pii_report_counts_entities_and_masks_them(corpus):
    platform, ids = corpus
    report = pii_report(platform.settings, platform.corpus.document(ids["Privacy contacts"]).text)
    assert report.counts == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1} and not report.truncated
    shown = "".join(piece for piece, _ in report.segments)
    assert "privacy.officer@example.com" not in shown and "7946" not in shown
    assert "<EMAIL_ADDRESS>" in shown and shown.startswith("Write to the privacy officer at ")
    clean = pii_report(platform.settings, "No personal data in this sentence.", max_chars=10)
    assert clean.findings == 0 and clean.truncated and clean.analysed_chars == 10


def test_highlights_follow_the_bm25_analysis():
    analyse = LexicalIndex("english", "en").tokenize_query
    terms = set(analyse("the fee for transferring"))
    segments = highlight_segments("Fees: the transfers are free.", terms, analyse)
    assert [piece for piece, hit in segments if hit] == ["Fees", "transfers"]  # stems match, stop words do not
    assert "".join(piece for piece, _ in segments) == "Fees: the transfers are free."


def test_explain_search_shows_each_retrievers_ranking_exactly(corpus):
    platform, ids = corpus
    query = "international transfer fees"
    explanation = explain_search(platform, query, "policies", k=3)
    for mode in RETRIEVERS:  # each column is what the platform's own search returns in that mode
        expected = [h.chunk_id for h in platform.retriever.search(query, "policies", mode=mode, k=3)]
        assert explanation.rankings[mode] == expected, mode
        for position, hit in enumerate(explanation.ranked(mode), start=1):
            assert hit.ranks[mode] == position
    top = explanation.ranked("bm25")[0]
    assert top.title.startswith("Fees Policy") and {"fees", "international", "transfers"} <= set(top.matched_terms)
    assert set(explanation.terms) == {"internat", "transfer", "fee"}
    assert "Fees Policy (2024)" in explanation.superseded_in_results
    superseded = next(h for h in explanation.hits.values() if h.status == "superseded")
    assert superseded.notice.startswith("Superseded by fees-2025.md")

    without = explain_search(platform, query, "policies", k=3, exclude_superseded=True)
    assert without.excluded_superseded == ["Fees Policy (2024)"] and not without.superseded_in_results
    assert all(h.document_id != ids["Fees Policy (2024)"] for h in without.hits.values())


def test_search_modes_embeds_the_query_once(settings):
    with Platform(settings) as platform:
        platform.corpus.ingest_records("c", [_doc("a.md", "Alpha", "alpha beta gamma"), _doc("b.md", "Beta", "delta epsilon")])
        real = platform.embedder
        calls = []

        class Counting:
            dim = real.dim

            def encode_query(self, text):
                calls.append(text)
                return real.encode_query(text)

        platform._embedder = Counting()
        results = platform.retriever.search_modes("alpha", "c", k=2)
        assert set(results) == {"bm25", "dense", "hybrid"} and calls == ["alpha"]
        assert results["bm25"][0].chunk.title == "Alpha"


def test_overview_aggregates(corpus):
    platform, ids = corpus
    rows = corpus_breakdown(platform)
    assert sum(r["documents"] for r in rows) == 9
    assert {(r["collection"], r["type"]): r["documents"] for r in rows}[("notes", "Text")] == 3
    lengths = chunk_lengths(platform)
    assert sum(count for _, count in lengths.bins) == lengths.chunks == sum(r["chunks"] for r in rows)
    assert (lengths.target, lengths.limit, lengths.window) == (platform.settings.chunk_tokens, 254, 256)
    assert chunk_lengths(platform, "notes").chunks == 3

    groups = near_duplicate_groups(platform)
    assert len(groups) == 1
    assert {m["title"] for m in groups[0]} == {"Heron survey", "Heron survey (copy)"}
    assert next(m for m in groups[0] if m["title"] == "Heron survey (copy)")["similarity"] >= 0.9
    assert near_duplicate_groups(platform, "notes") == []

    runs = ingest_history(platform)
    assert len(runs) == 3 and all(r["seconds"] is not None for r in runs)

    full = embedding_map(platform, limit=1000)
    assert not full.sampled and len(full.points) == full.total == lengths.chunks
    sample = embedding_map(platform, limit=5)
    assert sample.sampled and len(sample.points) == 5
    assert [p["chunk_id"] for p in embedding_map(platform, limit=5).points] == [p["chunk_id"] for p in sample.points]
    assert {"x", "y", "document", "collection", "preview"} <= set(sample.points[0])


def test_exports_as_csv_and_parquet(corpus):
    platform, ids = corpus
    query = DocumentQuery(collection="notes", order_by="title", descending=False, page_size=1)
    table = pacsv.read_csv(io.BytesIO(export_documents(platform, query, "csv")))
    assert table.num_rows == 3  # every matching document, not the one page
    assert table.column("title").to_pylist() == ["100%_done checklist", "Kestrel boxes", "Ringing dates"]
    parquet = pq.read_table(io.BytesIO(export_documents(platform, DocumentQuery(), "parquet")))
    assert parquet.num_rows == 9 and "metadata" in parquet.column_names
    chunks = pq.read_table(io.BytesIO(export_chunks(platform, "policies", "parquet", with_embeddings=True)))
    assert chunks.num_rows == sum(r["chunks"] for r in corpus_breakdown(platform) if r["collection"] == "policies")
    assert len(chunks.column("embedding")[0]) == 384
    csv_chunks = pacsv.read_csv(io.BytesIO(export_chunks(platform, None, "csv")))
    assert {"chunk_id", "title", "text", "heading_path"} <= set(csv_chunks.column_names)
    with pytest.raises(InputError, match="Parquet"):
        export_chunks(platform, None, "csv", with_embeddings=True)
    with pytest.raises(InputError, match="xlsx"):
        export_documents(platform, query, "xlsx")


def test_upload_keeps_good_files_and_reports_each_bad_one(settings):
    with Platform(settings.model_copy(update={"upload_max_mb": 1})) as platform:
        job = start_upload(platform, "birds", [
            ("heron.md", b"# Heron notes\n\nHerons migrate along the estuary every autumn.\n"),
            ("kestrel.txt", io.BytesIO(b"Kestrels nested in seven boxes this spring.")),
            ("broken.pdf", b"%PDF-1.7 not a pdf"),
            ("huge.txt", b"x" * (1024 * 1024 + 1)),
            ("heron.md", b"a second file with the same name"),
            ("../escape.md", b"# Escape\n\nA path in the name is dropped."),
        ], create=True)
        assert job.wait(300)
        states = [(f.name, f.state) for f in job.snapshot()]
        assert states == [("heron.md", "ingested"), ("kestrel.txt", "ingested"), ("broken.pdf", "failed"),
                          ("huge.txt", "failed"), ("heron.md", "failed"), ("escape.md", "ingested")]
        details = {(f.name, f.state): f.detail for f in job.snapshot()}
        assert details[("broken.pdf", "failed")].startswith("is a corrupt or unreadable PDF")
        assert "over the upload limit of 1 MB" in details[("huge.txt", "failed")]
        assert details[("heron.md", "ingested")] == "ingested: 1 chunk"
        folder = uploads_dir(platform, "birds")
        assert sorted(p.name for p in folder.iterdir()) == ["escape.md", "heron.md", "kestrel.txt"]
        heron = platform.corpus.documents("birds", title_contains="Heron")[0]
        assert Path(heron["source"]) == (folder / "heron.md").resolve()

        again = start_upload(platform, "birds", [
            ("heron.md", b"# Heron notes\n\nHerons migrate along the estuary every autumn and winter.\n"),
            ("kestrel.txt", b"%PDF-1.7 broken on purpose"),
        ])
        assert again.wait(300)
        assert [(f.name, f.state) for f in again.snapshot()] == [("heron.md", "updated"), ("kestrel.txt", "updated")]
        bad = start_upload(platform, "birds", [("escape.md", b"")])
        assert bad.wait(300) and bad.snapshot()[0].state == "failed"
        assert (folder / "escape.md").read_bytes().startswith(b"# Escape")  # the failed upload did not replace it
        assert sorted(p.name for p in folder.iterdir()) == ["escape.md", "heron.md", "kestrel.txt"]
        assert platform.corpus.reingest_document(heron["id"]).outcome == "unchanged"  # the source file stays valid
        with pytest.raises(InputError, match="already exists"):
            start_upload(platform, "birds", [("x.md", b"x")], create=True)


def test_outcome_descriptions_do_not_repeat_the_file_name():
    failed = FileOutcome(path="/tmp/up/broken.pdf", outcome="failed", message="broken.pdf: is a corrupt PDF")
    assert describe(failed) == "is a corrupt PDF"
    near = FileOutcome(path="b.md", outcome="near-duplicate", chunks=2, near_duplicate_of=4,
                       near_duplicate_title="Heron survey", similarity=0.93)
    assert describe(near) == "near-duplicate of “Heron survey” (document 4, similarity 0.93); kept, 2 chunks"


def test_upload_limit_matches_streamlit_config():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Settings.model_fields["upload_max_mb"].default
