"""Corpus changes are authorised in the backend: another tenant's collection or document does not exist for the
caller, readers may not change what they read, operators change only their tenants', and every change is audited
as its caller."""
from __future__ import annotations

import pytest

from backend.context import RequestContext
from backend.corpus.upload import start_upload
from backend.models import Forbidden, LoadedDocument, NotFound
from backend.platform import Platform
from backend.settings import Settings


def _doc(tenant: str, name: str) -> LoadedDocument:
    return LoadedDocument(source=f"{tenant}/{name}.md", title=f"{tenant} {name}", mime_type="text/markdown",
                          text=f"{name.title()} of {tenant}. The fee for a transfer at {tenant} is set by {tenant}.")


@pytest.fixture
def corpus(tmp_path):
    with Platform(Settings(data_dir=tmp_path / "data")) as platform:
        for tenant in ("acme", "globex"):
            platform.gateway.create_tenant(tenant)
            platform.corpus.create_collection(f"{tenant}-docs", tenant=tenant)
            platform.corpus.ingest_records(f"{tenant}-docs", [_doc(tenant, "fees"), _doc(tenant, "cards")])
        yield platform


def _ctx(platform, role: str, tenant: str = "acme", user: str | None = None) -> RequestContext:
    return RequestContext.for_tenant(platform.settings, tenant, user=user or f"{tenant}-{role}", role=role)


def _ids(platform, collection: str) -> list[int]:
    return [d["id"] for d in platform.corpus.documents(collection)]


def _last_audit(platform, action: str) -> dict:
    return platform.gateway.audit_log(limit=1, action=action)[0]


def test_another_tenants_things_do_not_exist_for_an_operator(corpus):
    olga = _ctx(corpus, "operator", user="olga")
    globex_doc = _ids(corpus, "globex-docs")[0]
    for change in (lambda: corpus.corpus.delete_document(globex_doc, olga),
                   lambda: corpus.corpus.move_document(globex_doc, "acme-docs", olga),
                   lambda: corpus.corpus.reingest_document(globex_doc, olga),
                   lambda: corpus.corpus.rename_collection("globex-docs", "mine", ctx=olga),
                   lambda: corpus.corpus.delete_collection("globex-docs", olga),
                   lambda: start_upload(corpus, "globex-docs", [("x.md", b"# x\nA file.")], ctx=olga)):
        with pytest.raises(NotFound):
            change()
    # Into a collection of another tenant: the target is unknown to the caller, and nothing moved.
    with pytest.raises(NotFound):
        corpus.corpus.move_document(_ids(corpus, "acme-docs")[0], "globex-docs", olga)
    assert len(_ids(corpus, "globex-docs")) == 2 and len(_ids(corpus, "acme-docs")) == 2


@pytest.mark.parametrize("role", ["analyst", "stakeholder"])
def test_readers_may_not_change_what_they_read(corpus, role):
    reader = _ctx(corpus, role)
    doc = _ids(corpus, "acme-docs")[0]
    for change in (lambda: corpus.corpus.delete_document(doc, reader),
                   lambda: corpus.corpus.move_document(doc, "acme-other", reader),
                   lambda: corpus.corpus.reingest_document(doc, reader),
                   lambda: corpus.corpus.rename_collection("acme-docs", "acme-renamed", ctx=reader),
                   lambda: corpus.corpus.delete_collection("acme-docs", reader),
                   lambda: corpus.corpus.create_collection("acme-more", ctx=reader),
                   lambda: start_upload(corpus, "acme-docs", [("x.md", b"# x\nA file.")], ctx=reader)):
        with pytest.raises(Forbidden):
            change()
    assert len(_ids(corpus, "acme-docs")) == 2 and not corpus.corpus.has_collection("acme-more")


def test_an_operator_changes_their_tenants_corpus_audited_as_themselves(corpus):
    olga = _ctx(corpus, "operator", user="olga")
    fees, cards = _ids(corpus, "acme-docs")
    assert corpus.corpus.delete_document(fees, olga) > 0
    assert _last_audit(corpus, "document.delete")["actor"] == "olga"
    corpus.corpus.move_document(cards, "acme-archive", olga)
    moved_to = corpus.corpus.collection_row("acme-archive")
    assert moved_to["tenant"] == "acme"  # a new target belongs to the document's tenant, not the default one
    assert _last_audit(corpus, "document.move")["actor"] == "olga"
    made = corpus.corpus.create_collection("acme-new", ctx=olga)
    assert made["tenant"] == "acme" and _last_audit(corpus, "collection.create")["actor"] == "olga"
    with pytest.raises(Forbidden):
        corpus.corpus.create_collection("globex-new", tenant="globex", ctx=olga)
    corpus.corpus.rename_collection("acme-new", "acme-renamed", ctx=olga)
    assert _last_audit(corpus, "collection.rename")["actor"] == "olga"
    corpus.corpus.delete_collection("acme-renamed", olga)
    assert _last_audit(corpus, "collection.delete")["actor"] == "olga"


def test_the_system_context_still_changes_everything(corpus):
    """The CLI on the local file and the benches act as the system, which may change every tenant's corpus."""
    doc = _ids(corpus, "globex-docs")[0]
    corpus.corpus.move_document(doc, "acme-docs")
    assert doc in _ids(corpus, "acme-docs")
    assert _last_audit(corpus, "document.move")["actor"] == "system"
