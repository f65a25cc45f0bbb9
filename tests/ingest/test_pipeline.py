"""The ingest pipeline through Platform: incremental updates, deletes, moves, duplicates, bad inputs, filters."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backend.ingest.chunking import embedding_text
from backend.ingest.personal_data import redact_found, scan
from backend.models import GroundworkError, InputError, LoadedDocument, Section
from backend.pii import get_redactor
from backend.platform import Platform
from backend.settings import Settings
from tests.ingest.fixtures import make_encrypted_pdf, make_pdf
from tests.store.corpus_fixtures import assert_stores_agree, document_text, store_ids, write_corpus


@pytest.fixture
def platform(settings):
    with Platform(settings) as instance:
        yield instance


def outcomes(report) -> dict[str, str]:
    return {Path(f.path).name: f.outcome for f in report.files}


def test_new_changed_and_unchanged_files_update_all_three_stores(platform, tmp_path):
    folder = tmp_path / "docs"
    paths = write_corpus(folder, 3)
    first = platform.corpus.ingest([folder], "policies")
    assert outcomes(first) == {p.name: "ingested" for p in paths}
    assert all(f.chunks > 0 and f.version == 1 for f in first.files)
    ids_before = assert_stores_agree(platform, "policies")
    assert len(ids_before) == first.chunks_added

    again = platform.corpus.ingest([folder], "policies")
    assert set(outcomes(again).values()) == {"unchanged"}
    assert again.chunks_added == 0
    assert assert_stores_agree(platform, "policies") == ids_before

    changed = paths[0]
    old_doc = first.files[0].document_id
    old_chunk_ids = {c.id for c in platform.corpus.chunks(old_doc)}
    version_before = platform.corpus.index_version("policies")
    changed.write_text(changed.read_text() + "\n## Amendment\n\nA zebracorn clause was added in this revision.\n")
    third = platform.corpus.ingest([folder], "policies")
    assert outcomes(third) == {paths[0].name: "updated", paths[1].name: "unchanged", paths[2].name: "unchanged"}
    updated = next(f for f in third.files if f.outcome == "updated")
    assert updated.document_id == old_doc and updated.version == 2
    assert platform.corpus.index_version("policies") > version_before

    ids_after = assert_stores_agree(platform, "policies")
    assert not old_chunk_ids & ids_after, "the old version's chunks are gone from every store"
    assert {c.id for c in platform.corpus.chunks(old_doc)} <= ids_after
    versions = platform.corpus.document_versions(old_doc)
    assert [v["version"] for v in versions] == [1, 2]
    assert "zebracorn" not in versions[0]["text"] and "zebracorn" in versions[1]["text"]
    assert platform.corpus.document(old_doc).version == 2
    hits = platform.retriever.search("zebracorn clause", "policies", mode="bm25", k=3)
    assert hits and hits[0].chunk.document_id == old_doc
    assert platform.corpus.count_documents("policies") == 3


def test_delete_move_and_reingest_are_incremental(platform, tmp_path):
    folder = tmp_path / "docs"
    paths = write_corpus(folder, 4)
    report = platform.corpus.ingest([folder], "main")
    doc_ids = [f.document_id for f in report.files]

    gone = {c.id for c in platform.corpus.chunks(doc_ids[0])}
    platform.corpus.delete_document(doc_ids[0])
    ids = assert_stores_agree(platform, "main")
    assert not gone & ids
    assert platform.corpus.document(doc_ids[0]).status == "deleted"
    assert len(platform.corpus.document_versions(doc_ids[0])) == 1, "a deleted document's versions stay recorded"
    assert doc_ids[0] not in {h.chunk.document_id for h in platform.retriever.search("policy", "main", k=20)}
    with pytest.raises(InputError, match="already deleted"):
        platform.corpus.delete_document(doc_ids[0])

    moving = {c.id for c in platform.corpus.chunks(doc_ids[1])}
    platform.corpus.move_document(doc_ids[1], "archive")
    assert not moving & assert_stores_agree(platform, "main")
    assert assert_stores_agree(platform, "archive") == moving
    assert platform.corpus.document(doc_ids[1]).collection == "archive"
    title = platform.corpus.document(doc_ids[1]).title
    hits = platform.retriever.search(title, "archive", k=1)
    assert hits[0].chunk.document_id == doc_ids[1] and hits[0].chunk.collection == "archive"

    unchanged = platform.corpus.reingest_document(doc_ids[2])
    assert unchanged.outcome == "unchanged" and unchanged.document_id == doc_ids[2]
    paths[2].write_text(paths[2].read_text() + "\nAn amended paragraph about quokka handling.\n")
    updated = platform.corpus.reingest_document(doc_ids[2])
    assert (updated.outcome, updated.version, updated.document_id) == ("updated", 2, doc_ids[2])
    assert_stores_agree(platform, "main")
    paths[3].unlink()
    with pytest.raises(InputError, match="no longer exists"):
        platform.corpus.reingest_document(doc_ids[3])

    # The deleted document's file comes back as a new document, not a resurrection of the old one.
    again = platform.corpus.ingest([paths[0]], "main")
    assert again.files[0].outcome == "ingested" and again.files[0].document_id not in doc_ids


def test_exact_and_near_duplicates_are_reported_with_the_document_they_match(settings, tmp_path):
    folder = tmp_path / "docs"
    original = write_corpus(folder, 1, words=200)[0]
    (folder / "copy.md").write_text(original.read_text())
    words = original.read_text().split(" ")
    words[40] = "altered"
    (folder / "near.md").write_text(" ".join(words))
    with Platform(settings) as platform:
        report = platform.corpus.ingest([original, folder / "copy.md", folder / "near.md"], "dups")
        by_name = {Path(f.path).name: f for f in report.files}
        stored = by_name[original.name]
        assert stored.outcome == "ingested"
        assert by_name["copy.md"].outcome == "duplicate"
        assert by_name["copy.md"].document_id == stored.document_id
        assert str(stored.document_id) in by_name["copy.md"].message and stored.title in by_name["copy.md"].message
        near = by_name["near.md"]
        assert near.outcome == "near-duplicate" and near.near_duplicate_of == stored.document_id
        assert near.similarity >= settings.near_duplicate_threshold and near.chunks > 0, "kept by default"
        assert platform.corpus.count_documents("dups") == 2
        files = platform.corpus.ingest_files(report.run_id)
        assert {f["outcome"] for f in files} == {"ingested", "duplicate", "near-duplicate"}
        assert next(f for f in files if f["outcome"] == "near-duplicate")["near_duplicate_title"] == stored.title

    skip = settings.model_copy(update={"near_duplicate_action": "skip", "data_dir": tmp_path / "skip-data"})
    with Platform(skip) as platform:
        report = platform.corpus.ingest([original, folder / "near.md"], "dups")
        near = report.files[1]
        assert near.outcome == "near-duplicate" and near.chunks == 0 and "skipped" in near.message
        assert platform.corpus.count_documents("dups") == 1
        assert_stores_agree(platform, "dups")


def test_mixed_folder_bad_inputs_each_get_their_error_and_nothing_stored_is_lost(platform, tmp_path):
    earlier = write_corpus(tmp_path / "earlier", 2)
    platform.corpus.ingest(earlier, "mixed")
    before = assert_stores_agree(platform, "mixed")

    folder = tmp_path / "incoming"
    good = write_corpus(folder, 2, start=10)
    (folder / "empty.md").write_bytes(b"")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage\n%%EOF")
    text_pdf = make_pdf(tmp_path / "plain.pdf")
    make_encrypted_pdf(folder / "encrypted.pdf", text_pdf)
    (folder / "binary.pdf").write_bytes(bytes(range(256)) * 40)
    with open(folder / "huge.txt", "wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: 100 MB by size, nothing written to disk
    (folder / "nul.txt").write_bytes(b"hello\x00world\x00" * 50)
    (folder / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me fees apply to late settlements. ".encode("latin-1") * 10)
    (folder / "tool.exe").write_bytes(b"MZ\x90\x00" * 100)
    (folder / ".hidden.md").write_text("# Hidden\n\nNever ingested.\n")
    missing = tmp_path / "does-not-exist.md"

    report = platform.corpus.ingest([folder, missing], "mixed")
    by_name = {Path(f.path).name: f for f in report.files}
    assert ".hidden.md" not in by_name
    expected_errors = {
        "empty.md": "empty", "corrupt.pdf": "corrupt", "encrypted.pdf": "password", "binary.pdf": "not a PDF",
        "huge.txt": "limit", "nul.txt": "NUL", "tool.exe": "unsupported", "does-not-exist.md": "no such file",
    }
    for name, words in expected_errors.items():
        item = by_name[name]
        assert item.outcome == "failed", (name, item)
        assert name in item.message and words in item.message, (name, item.message)
        assert "\n" not in item.message
    assert by_name["latin1.txt"].outcome == "ingested", "undecodable UTF-8 falls back to a legacy encoding"
    assert "Café crème" in platform.corpus.document(by_name["latin1.txt"].document_id).text
    for path in good:
        assert by_name[path.name].outcome == "ingested" and by_name[path.name].chunks > 0
    after = assert_stores_agree(platform, "mixed")
    assert before <= after, "nothing stored before is lost"
    assert report.counts["failed"] == len(expected_errors)
    run = platform.corpus.ingest_runs(1)[0]
    assert (run["status"], run["files_failed"], run["files_total"]) == ("finished", len(expected_errors), len(report.files))


def test_search_filters_and_document_level_results(platform, tmp_path):
    folder = tmp_path / "docs"
    write_corpus(folder, 3)
    (folder / "fees.csv").write_text("fee,amount\nlate payment fee,25\ncard replacement fee,10\n")
    (folder / "guide.html").write_text(
        "<html><head><title>Fee guide</title></head><body><main><h1>Fee guide</h1>"
        "<p>The late payment fee is charged after the grace period ends.</p></main></body></html>")
    report = platform.corpus.ingest([folder], "filters")
    ids = {Path(f.path).name: f.document_id for f in report.files}

    csv_only = platform.retriever.search("late payment fee", "filters", filters={"mime_type": "text/csv"})
    assert csv_only and {h.chunk.document_id for h in csv_only} == {ids["fees.csv"]}
    titled = platform.retriever.search("fee", "filters", filters={"title_contains": "guide"})
    assert {h.chunk.document_id for h in titled} == {ids["guide.html"]}
    chosen = platform.retriever.search("policy", "filters", filters={"document_ids": [ids["doc-001.md"]]}, k=10)
    assert chosen and {h.chunk.document_id for h in chosen} == {ids["doc-001.md"]}
    source = platform.corpus.document(ids["doc-002.md"]).source
    assert {h.chunk.source for h in platform.retriever.search("policy", "filters", filters={"source": source})} == {source}
    future = datetime.now() + timedelta(days=1)
    assert platform.retriever.search("fee", "filters", filters={"updated_after": future}) == []
    assert platform.retriever.search("fee", "filters", filters={"updated_before": future})
    with pytest.raises(InputError, match="unknown search filter"):
        platform.retriever.search("fee", "filters", filters={"colour": "red"})

    for mode in ("bm25", "dense", "hybrid"):
        hits = platform.retriever.search("late payment fee", "filters", mode=mode, k=4)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(h.chunk is not None and h.chunk.title for h in hits)
        assert all(mode in h.scores or mode == "hybrid" for h in hits)
    hybrid = platform.retriever.search("late payment fee", "filters", mode="hybrid", k=5)
    assert any("bm25" in h.scores and "dense" in h.scores for h in hybrid)

    assert platform.corpus.document_source_map("filters")[ids["fees.csv"]].endswith("fees.csv")


def test_ingest_records_batches_across_documents(settings):
    small_batches = settings.model_copy(update={"ingest_batch_docs": 4, "ingest_save_every": 6})
    records = []
    for i in range(14):
        title, text = document_text(100 + i, words=60)
        records.append(LoadedDocument(source=f"beir-{i}", title=title, mime_type="text/plain", text=text))
    records.append(LoadedDocument(source="beir-dup", title="Copy", mime_type="text/plain", text=records[0].text))
    events = []
    with Platform(small_batches) as platform:
        report = platform.corpus.ingest_records("beir-mini", records, progress=events.append)
        assert report.counts["ingested"] == 14 and report.counts["duplicate"] == 1
        assert sorted(platform.corpus.document_source_map("beir-mini").values()) == sorted(f"beir-{i}" for i in range(14))
        assert_stores_agree(platform, "beir-mini")
        kinds = [e.kind for e in events]
        assert kinds[0] == "start" and kinds[-1] == "finish" and kinds.count("file") == 15
        assert kinds.count("saved") >= 2, "saved every few documents and at the end"
        assert [e.done for e in events if e.kind == "file"] == list(range(1, 16))
        best = platform.retriever.search(records[3].title, "beir-mini", k=1)[0]
        assert best.chunk is not None and best.chunk.source == "beir-3"


def test_opening_with_other_chunk_settings_is_refused_clearly(settings, tmp_path):
    write_corpus(tmp_path / "docs", 1)
    with Platform(settings) as platform:
        platform.corpus.ingest([tmp_path / "docs"], "built")
    other = settings.model_copy(update={"chunk_tokens": 120})
    with Platform(other) as platform:
        with pytest.raises(GroundworkError, match="chunk_tokens") as caught:
            platform.retriever.search("policy", "built")
        assert "'built'" in str(caught.value) and "re-index" in str(caught.value)


def test_collections_create_rename_and_delete_only_when_empty(platform, tmp_path):
    platform.corpus.create_collection("team-a", tenant="acme", description="first")
    with pytest.raises(InputError, match="already exists"):
        platform.corpus.create_collection("team-a")
    with pytest.raises(InputError, match="collection name"):
        platform.corpus.create_collection("bad name!")
    platform.corpus.ingest(write_corpus(tmp_path / "docs", 1), "team-a")
    platform.corpus.rename_collection("team-a", "team-b")
    assert not platform.corpus.has_collection("team-a") and platform.corpus.has_collection("team-b")
    info = {c["name"]: c for c in platform.corpus.collections()}["team-b"]
    assert (info["tenant"], info["documents"], info["description"]) == ("acme", 1, "first")
    assert platform.retriever.search("policy", "team-b", k=1)[0].chunk.tenant == "acme"
    with pytest.raises(InputError, match="holds 1 document"):
        platform.corpus.delete_collection("team-b")
    platform.corpus.delete_document(platform.corpus.documents("team-b")[0]["id"])
    platform.corpus.delete_collection("team-b")
    assert platform.corpus.collections() == []
    with pytest.raises(InputError, match=r"collection 'team-b' does not exist \(collections: none"):
        platform.retriever.search("policy", "team-b")


def test_bad_queries_get_one_line_errors(platform, tmp_path):
    platform.corpus.ingest(write_corpus(tmp_path / "docs", 1), "q")
    platform.corpus.create_collection("other")
    with pytest.raises(InputError, match=r"collection 'nope' does not exist \(collections: other, q\)"):
        platform.retriever.search("x", "nope")
    with pytest.raises(InputError, match="empty"):
        platform.retriever.search("   ", "q")
    with pytest.raises(InputError, match="mode"):
        platform.retriever.search("x", "q", mode="fuzzy")
    with pytest.raises(InputError, match="characters"):
        platform.retriever.search("x" * 20_000, "q")


def test_redaction_hook_rewrites_text_before_it_is_stored(settings, tmp_path):
    text = "# Contacts\n\nWrite to jane.doe@example.com for refunds.\n\n## Phones\n\nCall the desk."
    document = LoadedDocument(source="s", title="Contacts", mime_type="text/markdown", text=text,
                              sections=[Section(0, 59, None, ("Contacts",)), Section(61, len(text), None, ("Contacts", "Phones"))])
    redactor = get_redactor(settings)
    redacted, findings = redact_found(document, scan(redactor, settings.data_dir, text), redactor)
    assert "<EMAIL_ADDRESS>" in redacted.text and "jane.doe" not in redacted.text
    assert [redacted.text[f.start:f.end] for f in findings] == ["<EMAIL_ADDRESS>"]
    assert redacted.text[redacted.sections[1].start:redacted.sections[1].end] == text[61:]

    path = tmp_path / "contacts.md"
    path.write_text(text)
    with Platform(settings.model_copy(update={"redact_at_ingest": True})) as platform:
        report = platform.corpus.ingest([path], "pii")
        stored = platform.corpus.document(report.files[0].document_id)
        assert "jane.doe@example.com" not in stored.text and "<EMAIL_ADDRESS>" in stored.text
        assert all("jane.doe" not in c.text for c in platform.corpus.chunks(stored.id))


def test_embedding_text_carries_title_and_headings_but_stays_bounded():
    assert embedding_text("Fees", ("Fees", "Late payment"), "A fee applies.") == "Fees — Late payment: A fee applies."
    assert embedding_text("", (), "plain") == "plain"
    long = embedding_text("word " * 100, ("h",), "body")
    assert long.endswith(": body") and len(long) < 200


def test_a_second_platform_sees_what_the_first_committed(settings, tmp_path):
    with Platform(settings) as platform:
        platform.corpus.ingest(write_corpus(tmp_path / "docs", 2), "reopen")
        ids = store_ids(platform, "reopen")
    with Platform(Settings(data_dir=settings.data_dir)) as platform:
        assert store_ids(platform, "reopen") == ids
        assert platform.corpus.indexes.last_reconcile["reopen"].repaired is False
