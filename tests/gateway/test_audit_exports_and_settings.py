"""The audit log records exports (what, which collection and filters, how many rows, which format, by whom) and
pricing-catalog changes (each changed field before and after, by whom); refused ones record nothing."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from backend.context import RequestContext
from backend.corpus.document_list import DocumentQuery
from backend.corpus.export import export_chunks, export_documents
from backend.economics.catalog import catalog_from_sections, catalog_to_data, load_catalog
from backend.economics.catalog_audit import catalog_changes, save_catalog_as
from backend.gateway.identity import Forbidden, Identity
from backend.models import InputError, LoadedDocument, NotFound
from backend.platform import Platform
from backend.settings import Settings
from tests.gateway.helpers import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _doc(source: str, title: str, text: str) -> LoadedDocument:
    return LoadedDocument(source=source, title=title, mime_type="text/markdown", text=text)


@pytest.fixture
def platform(data_dir):
    with Platform(Settings(data_dir=data_dir)) as instance:
        gateway, corpus = instance.gateway, instance.corpus
        for tenant in ("acme", "globex"):
            gateway.create_tenant(tenant)
        corpus.create_collection("acme-policies", tenant="acme")
        corpus.ingest_records("acme-policies", [
            _doc("fees.md", "Acme fees", "The fee for international transfers is 12 EUR per transfer."),
            _doc("cards.md", "Acme cards", "A customer has 45 days to report a card payment they did not make."),
            _doc("fees-old.md", "Acme fees (2020)", "The old fee for international transfers was 7 EUR."),
        ])
        corpus.create_collection("globex-policies", tenant="globex")
        corpus.ingest_records("globex-policies", [_doc("fees.md", "Globex fees", "The fee is 19 EUR.")])
        gateway.create_user("olga", "acme", "operator", PASSWORD)
        yield instance


def _ctx(platform, user: str, tenant: str, role: str) -> RequestContext:
    return platform.gateway.context_for(Identity(user=user, tenant=tenant, role=role))


def test_each_export_writes_one_audit_row_naming_the_actor_and_what_left(platform):
    olga = _ctx(platform, "olga", "acme", "operator")
    query = DocumentQuery(collection="acme-policies", search="fees", order_by="title", descending=False)
    documents = pacsv.read_csv(io.BytesIO(export_documents(platform, query, "csv", ctx=olga)))
    [row] = platform.gateway.audit_log(action="export")
    assert (row["actor"], row["action"], row["target"]) == ("olga", "export.documents", "acme-policies")
    assert row["details"] == {"kind": "documents", "collection": "acme-policies", "tenant": "acme",
                              "filters": {"search": "fees"}, "order_by": "title", "descending": False,
                              "rows": documents.num_rows, "format": "csv"}
    assert documents.num_rows == 2

    vectors = pq.read_table(io.BytesIO(export_chunks(platform, "acme-policies", "parquet", with_embeddings=True,
                                                     ctx=olga)))
    chunks_row, documents_row = platform.gateway.audit_log(action="export")
    assert documents_row == row
    assert (chunks_row["actor"], chunks_row["action"], chunks_row["target"]) == ("olga", "export.chunks", "acme-policies")
    assert chunks_row["details"] == {"kind": "chunks", "collection": "acme-policies", "tenant": "acme",
                                     "with_embeddings": True, "rows": vectors.num_rows, "format": "parquet"}
    assert vectors.num_rows >= 3

    everything = pacsv.read_csv(io.BytesIO(export_chunks(platform, None, "csv", ctx=olga)))  # all she may read
    newest = platform.gateway.audit_log(action="export", limit=1)[0]
    assert newest["target"] == "all collections" and newest["details"]["collection"] is None
    assert newest["details"]["rows"] == everything.num_rows == vectors.num_rows  # globex's chunk is not hers


def test_a_refused_export_records_nothing(platform):
    olga = _ctx(platform, "olga", "acme", "operator")
    with pytest.raises(InputError, match="export format 'xlsx'"):
        export_documents(platform, DocumentQuery(collection="acme-policies"), "xlsx", ctx=olga)
    with pytest.raises(InputError, match="embeddings export only as Parquet"):
        export_chunks(platform, "acme-policies", "csv", with_embeddings=True, ctx=olga)
    with pytest.raises(NotFound):
        export_chunks(platform, "globex-policies", "csv", ctx=olga)  # another tenant's collection does not exist
    assert platform.gateway.audit_log(action="export") == []


@pytest.fixture
def pricing(tmp_path) -> Path:
    path = tmp_path / "pricing.yaml"
    shutil.copy(ROOT / "data" / "pricing.yaml", path)
    return path


def _with_first_llm(catalog, **fields):
    records = catalog_to_data(catalog)["llm_apis"]
    records[0] = {**records[0], **fields}
    return catalog_from_sections({"llm_apis": records}, base=catalog)


def test_a_catalog_change_writes_one_audit_row_with_before_and_after(make_gateway, settings, pricing):
    gateway = make_gateway()
    stella = RequestContext.for_tenant(settings, "acme", user="stella", role="stakeholder")
    catalog = load_catalog(pricing)
    first = catalog.llm_apis[0]
    updated = _with_first_llm(catalog, input_per_m=first.input_per_m + 0.5)
    backup = save_catalog_as(updated, pricing, gateway, stella)
    assert load_catalog(pricing).llm_apis[0].input_per_m == first.input_per_m + 0.5
    [row] = gateway.audit_log(action="catalog")
    assert (row["actor"], row["action"], row["target"]) == ("stella", "catalog.save", str(pricing))
    assert row["details"] == {"tenant": "acme", "backup": backup.name, "changes": {
        "llm_apis": {"changed": {first.name: {"input_per_m": [first.input_per_m, first.input_per_m + 0.5]}}}}}


def test_added_and_removed_rows_are_recorded_whole():
    catalog = load_catalog(ROOT / "data" / "pricing.yaml")
    data = catalog_to_data(catalog)
    gone, kept = data["gpus"][0], data["gpus"][1:]
    added = {**gone, "name": "test GPU", "hourly_usd": 9.5}
    changes = catalog_changes(catalog, catalog_from_sections({"gpus": [*kept, added]}, base=catalog))
    assert changes == {"gpus": {"added": [added], "removed": [gone]}}
    assert catalog_changes(catalog, catalog) == {}
    assert set(catalog_changes(None, catalog)) == {s for s, rows in data.items() if rows}  # no old file: all added


def test_a_role_that_may_not_edit_the_catalog_changes_nothing(make_gateway, settings, pricing):
    gateway = make_gateway()
    before = pricing.read_bytes()
    olga = RequestContext.for_tenant(settings, "acme", user="olga", role="operator")
    with pytest.raises(Forbidden, match="role 'operator' may not change the pricing catalog"):
        save_catalog_as(_with_first_llm(load_catalog(pricing), input_per_m=9.0), pricing, gateway, olga)
    assert pricing.read_bytes() == before and gateway.audit_log(action="catalog") == []


def test_a_change_that_cannot_be_audited_is_put_back(make_gateway, settings, pricing):
    class BrokenAudit:
        def audit(self, *args, **kwargs):
            raise RuntimeError("the audit log cannot be written")

    before = pricing.read_bytes()
    admin = RequestContext.for_tenant(settings, "acme", user="ada", role="admin")
    with pytest.raises(RuntimeError, match="audit log"):
        save_catalog_as(_with_first_llm(load_catalog(pricing), input_per_m=9.0), pricing, BrokenAudit(), admin)
    assert pricing.read_bytes() == before and not pricing.with_name("pricing.yaml.bak").exists()
    assert not [p.name for p in pricing.parent.iterdir() if p.name.endswith(".tmp")]
