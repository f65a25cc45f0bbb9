"""The request context scopes every read inside the backend: another tenant's collection does not exist."""
from __future__ import annotations

import pytest

from backend.context import RequestContext
from backend.models import InputError
from backend.platform import Platform
from backend.settings import Settings


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctx")
    for tenant, fee in (("acme", "£3.50"), ("globex", "£9.99")):
        folder = root / tenant
        folder.mkdir()
        (folder / "fees.md").write_text(f"# Fees\n\nAn international transfer costs {fee} per transfer.\n")
    instance = Platform(Settings(data_dir=root / "data"))
    for tenant in ("acme", "globex"):
        instance.corpus.create_collection(f"{tenant}-docs", tenant=tenant)
        report = instance.corpus.ingest([root / tenant], f"{tenant}-docs")
        assert not report.failed
    yield instance
    instance.close()


def test_a_tenant_sees_only_its_own_collections_documents_and_chunks(platform):
    acme = RequestContext.for_tenant(platform.settings, "acme", user="ann")
    corpus = platform.corpus
    assert corpus.collection_names(acme) == ["acme-docs"]
    assert [c["name"] for c in corpus.collections(acme)] == ["acme-docs"]
    assert not corpus.has_collection("globex-docs", acme)
    documents = corpus.documents(ctx=acme)
    assert {d["collection"] for d in documents} == {"acme-docs"} and corpus.count_documents(ctx=acme) == 1
    other = corpus.documents("globex-docs")[0]["id"]  # the system context reads every tenant
    with pytest.raises(InputError, match=f"unknown document id {other}"):
        corpus.document(other, acme)
    with pytest.raises(InputError, match=f"unknown document id {other}"):
        corpus.chunks(other, acme)
    globex_chunks = [c.id for c in corpus.chunks(other)]
    assert corpus.chunks_by_ids(globex_chunks, acme) == {}
    assert [s["name"] for s in corpus.stats(ctx=acme)["collections"]] == ["acme-docs"]
    assert {r["collection"] for r in corpus.ingest_runs(ctx=acme)} == {"acme-docs"}


def test_retrieval_and_chat_refuse_another_tenants_collection_as_unknown(platform):
    acme = RequestContext.for_tenant(platform.settings, "acme")
    message = r"collection 'globex-docs' does not exist \(collections: acme-docs\)"
    with pytest.raises(InputError, match=message):
        platform.retriever.search("international transfer fee", "globex-docs", ctx=acme)
    with pytest.raises(InputError, match=message):
        platform.chat.ask("What does an international transfer cost?", "globex-docs", ctx=acme, remember=False)
    hits = platform.retriever.search("international transfer fee", "acme-docs", ctx=acme)
    assert hits and all(h.chunk.collection == "acme-docs" and h.chunk.tenant == "acme" for h in hits)
    answer = platform.chat.ask("What does an international transfer cost?", "acme-docs", ctx=acme, remember=False)
    assert "£3.50" in answer.text and "£9.99" not in answer.text


def test_grants_narrow_a_tenant_to_some_collections(platform):
    nobody = RequestContext.for_tenant(platform.settings, "acme", collections=frozenset())
    assert platform.corpus.collection_names(nobody) == []
    assert platform.corpus.documents(ctx=nobody) == [] and platform.corpus.count_documents(ctx=nobody) == 0
    system = platform.corpus.system
    assert system.can_read({"name": "globex-docs", "tenant": "globex"})


def test_the_corpus_browsers_views_are_scoped_by_the_context(platform):
    from backend.corpus.document_detail import chunk_rows, document_detail
    from backend.corpus.document_list import DocumentQuery, document_facets, document_page
    from backend.corpus.export import export_chunks, export_documents
    from backend.corpus.overview import chunk_lengths, corpus_breakdown, embedding_map, ingest_history
    from backend.corpus.search_explorer import explain_search

    acme = RequestContext.for_tenant(platform.settings, "acme")
    nobody = RequestContext.for_tenant(platform.settings, "acme", collections=frozenset())
    page = document_page(platform, DocumentQuery(), acme)
    assert page.total == 1 and {r["collection"] for r in page.rows} == {"acme-docs"}
    assert document_page(platform, DocumentQuery(), nobody).total == 0  # no grant reads nothing, not everything
    assert document_page(platform, DocumentQuery()).total == 2  # the system context reads both tenants
    assert sum(document_facets(platform, ctx=acme)["types"].values()) == 1
    assert {r["collection"] for r in corpus_breakdown(platform, acme)} == {"acme-docs"}
    assert corpus_breakdown(platform, nobody) == []
    assert chunk_lengths(platform, ctx=acme).chunks == len(platform.corpus.chunks(page.rows[0]["id"]))
    assert {r["collection"] for r in ingest_history(platform, ctx=acme)} == {"acme-docs"}
    assert embedding_map(platform, ctx=nobody).total == 0
    assert b"9.99" not in export_chunks(platform, ctx=acme) and b"3.50" in export_chunks(platform, ctx=acme)
    assert b"globex" not in export_documents(platform, DocumentQuery(), ctx=acme)
    other = platform.corpus.documents("globex-docs")[0]["id"]
    for view in (document_detail, chunk_rows):
        with pytest.raises(InputError, match=f"unknown document id {other}"):
            view(platform, other, ctx=acme)
    with pytest.raises(InputError, match="collection 'globex-docs' does not exist"):
        explain_search(platform, "transfer fee", "globex-docs", ctx=acme)
    explained = explain_search(platform, "transfer fee", "acme-docs", ctx=acme)
    assert explained.hits and all(h.title == "Fees" for h in explained.hits.values())
