"""list_collections, aggregated once per table, returns exactly what the per-collection subqueries returned."""
from __future__ import annotations

from datetime import datetime

from backend.store import collections as collection_store
from backend.store.rows import dicts

# The query list_collections ran before: a correlated subquery per count. Kept here as the reference result.
REFERENCE = """
SELECT col.id, col.name, col.tenant, col.description, col.created_at, col.index_version, col.index_settings,
       (SELECT count(*) FROM documents d WHERE d.collection_id = col.id AND d.status = 'active') AS documents,
       (SELECT count(*) FROM chunks c WHERE c.collection_id = col.id) AS chunks,
       (SELECT coalesce(sum(c.token_count), 0) FROM chunks c WHERE c.collection_id = col.id) AS tokens,
       (SELECT max(r.started_at) FROM ingest_runs r WHERE r.collection_id = col.id) AS last_ingest_at
FROM collections col ORDER BY col.name
"""


def _document(cur, collection_id: int, doc_id: int, status: str, chunk_tokens: list[int]) -> None:
    cur.execute("INSERT INTO documents (id, collection_id, source, title, mime_type, content_hash, status)"
                " VALUES (?, ?, ?, ?, 'text/markdown', ?, ?)",
                [doc_id, collection_id, f"doc-{doc_id}.md", f"Doc {doc_id}", f"h{doc_id}", status])
    for ordinal, tokens in enumerate(chunk_tokens):
        cur.execute("INSERT INTO chunks (document_id, version, collection_id, tenant, ordinal, text, token_count,"
                    " char_start, char_end) VALUES (?, 1, ?, 't', ?, 'x', ?, 0, 1)",
                    [doc_id, collection_id, ordinal, tokens])


def test_counts_tokens_and_last_ingest_match_the_reference_query(store):
    with store.transaction() as cur:
        busy = collection_store.insert_collection(cur, "busy", "acme", "two runs, a deleted document")
        collection_store.insert_collection(cur, "empty", "acme")
        runs_only = collection_store.insert_collection(cur, "aaa-runs-only", "globex")
        deleted = collection_store.insert_collection(cur, "deleted-only", "globex")
        collection_store.set_index_settings(cur, busy, {"model": "m", "dim": 384})
        collection_store.bump_index_version(cur, busy)
        _document(cur, busy, 1, "active", [100, 250])
        _document(cur, busy, 2, "active", [7])
        _document(cur, busy, 3, "deleted", [40])  # its chunks still count, the document does not
        _document(cur, deleted, 4, "deleted", [])
        for collection_id, started in ((busy, datetime(2026, 5, 1, 8)), (busy, datetime(2026, 5, 2, 9)),
                                       (runs_only, datetime(2026, 4, 30, 23)), (None, datetime(2026, 5, 3))):
            cur.execute("INSERT INTO ingest_runs (collection_id, started_at) VALUES (?, ?)", [collection_id, started])
    with store.cursor() as cur:
        rows = collection_store.list_collections(cur)
        assert rows == dicts(cur.execute(REFERENCE))
    by_name = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == ["aaa-runs-only", "busy", "deleted-only", "empty"]
    assert (by_name["busy"]["documents"], by_name["busy"]["chunks"], by_name["busy"]["tokens"]) == (2, 4, 397)
    assert by_name["busy"]["last_ingest_at"] == datetime(2026, 5, 2, 9) and by_name["busy"]["index_version"] == 1
    assert (by_name["empty"]["documents"], by_name["empty"]["chunks"], by_name["empty"]["tokens"]) == (0, 0, 0)
    assert by_name["empty"]["last_ingest_at"] is None
    assert by_name["aaa-runs-only"]["last_ingest_at"] == datetime(2026, 4, 30, 23)
    assert by_name["deleted-only"]["documents"] == 0


def test_no_collection_no_rows(store):
    with store.cursor() as cur:
        assert collection_store.list_collections(cur) == []


def test_a_committed_write_changes_the_lanes_commit_number_and_a_rolled_back_one_does_not(store):
    before = store.commits()
    with store.transaction() as cur:
        collection_store.insert_collection(cur, "one", "acme")
    after = store.commits()
    assert after != before
    try:
        with store.transaction() as cur:
            collection_store.insert_collection(cur, "two", "acme")
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    assert store.commits() == after
    gateway_before = store.commits("gateway")
    store.execute("INSERT INTO audit_log (actor, action, target, details) VALUES ('a', 'b', 'c', '{}')", lane="gateway")
    assert store.commits("gateway") != gateway_before and store.commits() == after


def test_the_collections_list_is_kept_only_until_the_corpus_changes(tmp_path):
    from backend.platform import Platform
    from backend.settings import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nThe first document of the collection, about wire transfers.\n")
    with Platform(Settings(data_dir=tmp_path / "data")) as platform:
        corpus = platform.corpus
        corpus.ingest([docs], collection="kept")
        assert [(c["name"], c["documents"]) for c in corpus.collections()] == [("kept", 1)]
        assert corpus.collections() == corpus.collections()  # served from the kept rows
        (docs / "b.md").write_text("# B\n\nA second document, about savings accounts and their rates.\n")
        corpus.ingest([docs / "b.md"], collection="kept")
        assert [(c["name"], c["documents"]) for c in corpus.collections()] == [("kept", 2)]
        corpus.delete_document(corpus.documents("kept")[0]["id"])
        assert [c["documents"] for c in corpus.collections()] == [1]
