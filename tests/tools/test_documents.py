"""search_documents and read_document_section through the guarded executor, over a real platform with the demo's fee
documents: what they find and read, and that another tenant's or an ungranted collection does not exist for them."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backend.gateway.identity import Identity
from backend.models import LoadedDocument
from backend.platform import Platform
from backend.settings import Settings
from backend.tools.documents import READ_DOCUMENT_SECTION, SEARCH_DOCUMENTS
from backend.tools.executor import ToolExecutor
from backend.tools.registry import ToolRegistry
from backend.tools.spec import FAILED, FORBIDDEN, INVALID, OK, ToolCaller

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
FEE_DOCUMENTS = ("fees-and-charges-2025.md", "fees-and-charges-2024.md", "international-transfers.md")
PASSWORD = "correct horse battery staple 42"
# The other tenant's fee document: the same wording as the demo's with a figure no demo document holds.
GLOBEX_FEES = ("# Globex fees\n\n## Sending money\n\nAn international transfer sent over SWIFT costs £9.75 per "
               "transfer at Globex, whatever the amount.\n")
NO_COLLECTION = "no such collection among those you can read"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("document-tools")
    docs = root / "docs"
    docs.mkdir()
    for name in FEE_DOCUMENTS:
        shutil.copy(DEMO / name, docs / name)
    platform = Platform(Settings(data_dir=root / "data"))
    corpus, gateway = platform.corpus, platform.gateway
    corpus.ingest([docs], collection="demo")
    for tenant in (platform.settings.default_tenant, "globex"):
        if tenant not in {t["name"] for t in gateway.tenants()}:
            gateway.create_tenant(tenant)
    corpus.create_collection("globex-policies", tenant="globex")
    corpus.ingest_records("globex-policies", [LoadedDocument(source="globex/fees.md", title="Globex fees",
                                                             mime_type="text/markdown", text=GLOBEX_FEES)])
    corpus.create_collection("scratch", tenant=platform.settings.default_tenant)
    corpus.ingest_records("scratch", [LoadedDocument(source="scratch/note.md", title="Scratch note",
                                                     mime_type="text/markdown", text="# Note\n\nTo be deleted.\n")])
    default = platform.settings.default_tenant
    for name, tenant, role in (("alice", default, "analyst"), ("bob", default, "analyst"),
                               ("stan", default, "stakeholder"), ("gina", "globex", "analyst")):
        gateway.create_user(name, tenant, role, PASSWORD)
    for group, tenant, member, collection in (("demo-readers", default, "alice", "demo"),
                                              ("globex-readers", "globex", "gina", "globex-policies")):
        gateway.create_group(group, tenant)
        gateway.add_member(group, member)
        gateway.grant(group, collection)
    yield platform
    platform.close()


@pytest.fixture
def executor(platform):
    platform.gateway.limits.reset()
    executor = ToolExecutor(platform, ToolRegistry([SEARCH_DOCUMENTS, READ_DOCUMENT_SECTION]))
    yield executor
    executor.close()


def _caller(platform, user: str, collection: str | None = "demo", key_id: int | None = None,
            scopes: frozenset[str] = frozenset({"read", "ask"})) -> ToolCaller:
    row = platform.gateway.user(user)
    identity = Identity(user=user, tenant=row["tenant"], role=row["role"], key_id=key_id, scopes=scopes)
    return ToolCaller(identity, platform.gateway.context_for(identity), collection)


def _document_id(platform, collection: str, title: str) -> int:
    return next(d["id"] for d in platform.corpus.documents(collection) if d["title"] == title)


# --- search_documents -----------------------------------------------------------------------------------------
def test_search_finds_the_swift_fee_passage_and_cites_its_chunks(platform, executor):
    call = executor.call("search_documents", {"query": "What does an international SWIFT transfer cost?", "k": 5},
                         _caller(platform, "alice"))
    assert call.outcome == OK, call.message
    hits = call.data["hits"]
    assert call.data["collection"] == "demo" and 1 <= len(hits) <= 5
    assert call.chunk_ids == [hit["chunk_id"] for hit in hits]
    current = _document_id(platform, "demo", "Fees and Charges Policy (2025)")
    swift = next(hit for hit in hits if hit["document_id"] == current and "£3.50" in
                 platform.corpus.chunks_by_ids([hit["chunk_id"]])[hit["chunk_id"]].text)
    number = hits.index(swift) + 1
    passage = next(p for p in call.result.split("\n\n") if p.startswith(f"[{number}] "))
    assert passage.startswith(f"[{number}] Fees and Charges Policy (2025) › ")
    assert f"(document {current}, chunk {swift['chunk_id']}): " in passage and "£3.50" in passage
    assert len(passage) < 800  # the passage's text is trimmed to about 600 characters
    assert set(swift) >= {"chunk_id", "document_id", "title", "heading_path", "score"}


def test_the_superseded_fee_policy_keeps_its_demotion(platform, executor):
    alice = _caller(platform, "alice")
    old = _document_id(platform, "demo", "Fees and Charges Policy (2024)")
    current = _document_id(platform, "demo", "Fees and Charges Policy (2025)")
    now = executor.call("search_documents", {"query": "international transfer fee", "k": 10}, alice)
    assert now.outcome == OK, now.message
    # The one retriever's ranking, demotion and all: the 2024 policy falls below the current one's passages.
    assert now.chunk_ids == [h.chunk_id for h in platform.retriever.search("international transfer fee", "demo", k=10,
                                                                           ctx=alice.ctx)]
    documents = [hit["document_id"] for hit in now.data["hits"]]
    assert current in documents and old not in documents
    # A question about the past still finds the old version, marked as superseded.
    past = executor.call("search_documents", {"query": "What was the international transfer fee in 2024?", "k": 10},
                         alice)
    old_hits = [hit for hit in past.data["hits"] if hit["document_id"] == old]
    assert old_hits and all(hit["superseded"] for hit in old_hits)
    assert not any(hit["superseded"] for hit in past.data["hits"] if hit["document_id"] == current)
    assert "Fees and Charges Policy (2024) (superseded) › " in past.result


def test_search_defaults_to_the_callers_collection_and_five_passages(platform, executor):
    call = executor.call("search_documents", {"query": "SWIFT payment cut-off time"}, _caller(platform, "alice"))
    assert call.outcome == OK and call.data["collection"] == "demo" and len(call.data["hits"]) == 5
    own = executor.call("search_documents", {"query": "SWIFT transfer fee"}, _caller(platform, "gina", "globex-policies"))
    assert own.outcome == OK and own.data["collection"] == "globex-policies" and "£9.75" in own.result
    assert {hit["title"] for hit in own.data["hits"]} == {"Globex fees"}


@pytest.mark.parametrize("arguments, field", [
    ({"query": "fees", "k": 11}, "arguments.k"),
    ({"query": "fees", "k": 0}, "arguments.k"),
    ({"query": "   "}, "arguments.query"),
    ({"query": "x" * 501}, "arguments.query"),
    ({"k": 3}, "arguments.query"),
    ({"query": "fees", "mode": "bm25"}, "arguments.mode"),
])
def test_bad_search_arguments_are_refused_naming_the_field(platform, executor, arguments, field):
    call = executor.call("search_documents", arguments, _caller(platform, "alice"))
    assert call.outcome == INVALID and call.message.startswith(f"{field}: "), call.message
    assert call.result == "" and call.chunk_ids == []


def test_another_tenants_collection_does_not_exist_for_an_analyst_and_runs_no_search(platform, executor,
                                                                                       monkeypatch):
    searches: list[str] = []
    search = platform.retriever.search

    def counted(query, collection=None, *args, **kwargs):
        searches.append(collection)
        return search(query, collection, *args, **kwargs)

    monkeypatch.setattr(platform.retriever, "search", counted)
    alice = _caller(platform, "alice")
    foreign = executor.call("search_documents", {"query": "SWIFT fee", "collection": "globex-policies"}, alice)
    missing = executor.call("search_documents", {"query": "SWIFT fee", "collection": "no-such-thing"}, alice)
    ungranted = executor.call("search_documents", {"query": "note", "collection": "scratch"}, alice)
    for call, name in ((foreign, "globex-policies"), (missing, "no-such-thing"), (ungranted, "scratch")):
        assert call.outcome == FAILED and call.result == "" and call.chunk_ids == []
        assert call.message.startswith(f"collection {name!r}: {NO_COLLECTION}"), call.message
    # One message for all three: nothing tells the analyst the others exist, nor what they hold.
    assert foreign.message.replace("globex-policies", "?") == missing.message.replace("no-such-thing", "?") == \
        ungranted.message.replace("scratch", "?")
    assert "globex" not in foreign.message.replace("'globex-policies'", "") and "scratch" not in missing.message
    assert searches == []
    assert executor.call("search_documents", {"query": "SWIFT fee"}, alice).outcome == OK
    assert searches == ["demo"]


def test_an_analyst_without_a_grant_sees_nothing(platform, executor):
    bob = _caller(platform, "bob")
    call = executor.call("search_documents", {"query": "SWIFT transfer fee"}, bob)
    assert call.outcome == FAILED and call.message == (
        f"collection 'demo': {NO_COLLECTION} (collections you can read: none)")
    demo_doc = _document_id(platform, "demo", "Fees and Charges Policy (2025)")
    read = executor.call("read_document_section", {"document_id": demo_doc}, bob)
    assert read.outcome == FAILED and read.message == f"document {demo_doc}: not found among the documents you can read"


def test_a_stakeholder_may_call_neither_tool(platform, executor):
    stan = _caller(platform, "stan")
    for name, arguments in (("search_documents", {"query": "SWIFT fee"}), ("read_document_section", {"document_id": 1})):
        call = executor.call(name, arguments, stan)
        assert call.outcome == FORBIDDEN and call.message == f"{name}: the stakeholder role may not call it"


def test_an_api_key_without_the_read_scope_may_not_search(platform, executor):
    call = executor.call("search_documents", {"query": "SWIFT fee"}, _caller(platform, "alice", key_id=7,
                                                                             scopes=frozenset({"ask"})))
    assert call.outcome == FORBIDDEN and "lacks the 'read' scope" in call.message


# --- read_document_section ------------------------------------------------------------------------------------
def test_a_known_heading_gives_its_sections_text_once_and_its_chunks(platform, executor):
    document = _document_id(platform, "demo", "Fees and Charges Policy (2025)")
    call = executor.call("read_document_section", {"document_id": document, "heading": "sending MONEY"},
                         _caller(platform, "alice"))
    assert call.outcome == OK, call.message
    expected = [c.id for c in platform.corpus.chunks(document) if c.heading_path[-1:] == ("Sending money",)]
    assert len(expected) >= 2  # the section spans overlapping chunks: their overlap must not be repeated
    assert call.chunk_ids == expected
    assert call.data == {"document_id": document, "title": "Fees and Charges Policy (2025)", "collection": "demo",
                         "heading_path": ["Fees and Charges Policy (2025)", "Sending money"], "chunks": len(expected),
                         "trimmed": False}
    assert call.result.startswith(f"Fees and Charges Policy (2025) › Sending money (document {document}, collection demo)")
    assert "International transfer via SWIFT | Charge from 1 April 2025: £3.50" in call.result
    assert call.result.count("The charge is taken when the payment is released") == 1
    assert "Using the card" not in call.result  # the next section is not part of it


def test_a_parent_heading_includes_its_subsections_and_a_path_matches(platform, executor):
    document = _document_id(platform, "demo", "Fees and Charges Policy (2025)")
    alice = _caller(platform, "alice")
    parent = executor.call("read_document_section", {"document_id": document, "heading": "About this version"}, alice)
    assert parent.outcome == OK and parent.data["heading_path"][-1] == "About this version"
    assert "supersedes the Fees and Charges Policy" in parent.result and "£5.00 flat" in parent.result
    child = executor.call("read_document_section",
                          {"document_id": document, "heading": "about this version > What changed on 1 April 2025"}, alice)
    assert child.outcome == OK and child.data["chunks"] == 1 and set(child.chunk_ids) < set(parent.chunk_ids)
    assert "£5.00 flat" in child.result and "supersedes the Fees and Charges Policy" not in child.result


def test_without_a_heading_the_document_lists_its_headings_and_its_first_section(platform, executor):
    document = _document_id(platform, "demo", "Fees and Charges Policy (2025)")
    call = executor.call("read_document_section", {"document_id": document}, _caller(platform, "alice"))
    assert call.outcome == OK, call.message
    assert call.data["headings"][:3] == ["Fees and Charges Policy (2025)", "About this version",
                                         "About this version > What changed on 1 April 2025"]
    assert "Sending money" in call.data["headings"]
    assert "Headings: Fees and Charges Policy (2025); About this version; " in call.result
    assert "Document reference: NL-POL-031" in call.result and "This policy takes effect" not in call.result
    assert call.chunk_ids == [platform.corpus.chunks(document)[0].id]


def test_an_unknown_heading_is_refused_listing_the_headings(platform, executor):
    document = _document_id(platform, "demo", "Fees and Charges Policy (2025)")
    call = executor.call("read_document_section", {"document_id": document, "heading": "Crypto fees"},
                         _caller(platform, "alice"))
    assert call.outcome == FAILED
    assert call.message.startswith(f"heading: document {document} has no heading 'Crypto fees' (its headings: ")
    assert "Sending money" in call.message and "Refunding and waiving charges" in call.message


def test_a_long_section_is_trimmed_with_a_note(platform, executor):
    document = _document_id(platform, "demo", "Fees and Charges Policy (2025)")
    whole = executor.call("read_document_section", {"document_id": document, "heading": "Fees and Charges Policy (2025)",
                                                    "max_chars": 8000}, _caller(platform, "alice"))
    call = executor.call("read_document_section", {"document_id": document, "heading": "Fees and Charges Policy (2025)",
                                                   "max_chars": 300}, _caller(platform, "alice"))
    assert whole.outcome == call.outcome == OK and not whole.data["trimmed"] and call.data["trimmed"]
    body = call.result.split("\n\n", 1)[1]
    note_at = body.index("[trimmed: ")
    assert note_at <= 302 and "characters shown; ask with a larger max_chars" in body
    assert call.chunk_ids and set(call.chunk_ids) < set(whole.chunk_ids) and call.data["chunks"] == len(call.chunk_ids)


@pytest.mark.parametrize("arguments, field", [
    ({"document_id": 0}, "arguments.document_id"),
    ({"document_id": 1, "max_chars": 100}, "arguments.max_chars"),
    ({"document_id": 1, "max_chars": 9000}, "arguments.max_chars"),
    ({"document_id": 1, "heading": "h" * 201}, "arguments.heading"),
    ({"document_id": 1, "page": 2}, "arguments.page"),
])
def test_bad_read_arguments_are_refused_naming_the_field(platform, executor, arguments, field):
    call = executor.call("read_document_section", arguments, _caller(platform, "alice"))
    assert call.outcome == INVALID and call.message.startswith(f"{field}: "), call.message


def test_another_tenants_document_is_not_found_like_a_missing_one(platform, executor):
    alice, gina = _caller(platform, "alice"), _caller(platform, "gina", "globex-policies")
    globex_doc = _document_id(platform, "globex-policies", "Globex fees")
    assert executor.call("read_document_section", {"document_id": globex_doc}, gina).outcome == OK
    foreign = executor.call("read_document_section", {"document_id": globex_doc, "heading": "Sending money"}, alice)
    missing = executor.call("read_document_section", {"document_id": 987654}, alice)
    assert foreign.outcome == missing.outcome == FAILED
    assert foreign.message == f"document {globex_doc}: not found among the documents you can read"
    assert missing.message == "document 987654: not found among the documents you can read"
    assert foreign.result == "" and foreign.chunk_ids == [] and "£9.75" not in foreign.message


def test_a_deleted_document_is_not_found(platform, executor):
    ada = ToolCaller(Identity(user="ada", tenant=platform.settings.default_tenant, role="admin",
                              scopes=frozenset({"read", "ask"})), platform.corpus.system, "scratch")
    document = _document_id(platform, "scratch", "Scratch note")
    assert "To be deleted." in executor.call("read_document_section", {"document_id": document}, ada).result
    platform.corpus.delete_document(document)
    call = executor.call("read_document_section", {"document_id": document}, ada)
    assert call.outcome == FAILED and call.message == f"document {document}: not found among the documents you can read"
