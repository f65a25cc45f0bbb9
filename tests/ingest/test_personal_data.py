"""Personal data at ingest: findings recorded with their places and hashed values, replaced and deleted with their
document, a collection that redacts stores no personal data anywhere, the search by value scoped by the caller."""
from __future__ import annotations

import re

import pytest

from backend.context import RequestContext
from backend.corpus.page_images import PageImageUnavailable, render_page_image
from backend.corpus.personal_data import document_findings, documents_with_value
from backend.ingest.personal_data import collection_mode, normalise, search_hashes, value_hash
from backend.models import Forbidden, InputError, LoadedDocument
from backend.platform import Platform
from backend.settings import Settings
from backend.store import document_pii
from backend.tools.table_rows import TableUnreadable, load_table
from tests.ingest.fixtures import make_pdf

EMAIL, PHONE = "margaret.okafor@example.com", "+44 20 7946 0958"
CONTACTS = (f"# Vendor contacts\n\nPlease ask Margaret Okafor to approve the vendor contract.\n\n## Reaching her\n\n"
            f"Write to {EMAIL} or call {PHONE} on weekdays.\n")
PDF_EMAIL = "pdf.person@example.com"
# What the collection that redacts holds: none of it may be anywhere in DuckDB or the index files afterwards.
SECRETS = ("redact.me@example.com", "7946 0111", "GB33BUKB20201555555555", "csv.person@example.com",
           "xlsx.person@example.com", "pdf.secret@example.com")


def _xlsx(path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Contact", "Role"])
    sheet.append([SECRETS[4], "auditor"])
    workbook.save(str(path))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("personal-data")
    files = root / "files"
    (files / "acme").mkdir(parents=True)
    (files / "private").mkdir()
    (files / "globex").mkdir()
    (files / "acme" / "contacts.md").write_text(CONTACTS)
    (files / "acme" / "leaver.md").write_text("# Leaver\n\nForward mail for leaver.person@example.com to the desk.\n")
    make_pdf(files / "acme" / "handbook.pdf", [["Welcome", "Nothing personal on this page."],
                                               ["Help", f"Write to {PDF_EMAIL} for help with the handbook."]])
    (files / "globex" / "contacts.md").write_text(f"# Globex contacts\n\nOur auditor is reached at {EMAIL} only.\n")
    (files / "private" / "desk.md").write_text(
        f"# Desk\n\nMail {SECRETS[0]} or call +44 20 {SECRETS[1]}. Refunds go to {SECRETS[2]}.\n")
    (files / "private" / "people.csv").write_text(f"name,email,team\nDesk lead,{SECRETS[3]},payments\n")
    _xlsx(files / "private" / "people.xlsx")
    make_pdf(files / "private" / "notice.pdf", [["Notice", f"Questions go to {SECRETS[5]} this week."]])
    with Platform(Settings(data_dir=root / "data")) as platform:
        for tenant in ("acme", "globex"):
            platform.gateway.create_tenant(tenant)
        corpus = platform.corpus
        corpus.create_collection("acme-people", tenant="acme")
        corpus.create_collection("acme-private", tenant="acme")
        corpus.set_pii_at_ingest("acme-private", "redact")
        corpus.create_collection("globex-people", tenant="globex")
        for folder, collection in (("acme", "acme-people"), ("private", "acme-private"), ("globex", "globex-people")):
            report = corpus.ingest([files / folder], collection)
            assert all(f.outcome == "ingested" for f in report.files), [f.message for f in report.files]
        platform.files = files  # type: ignore[attr-defined]
        yield platform


def doc_id(platform, collection: str, title_part: str) -> int:
    return next(d["id"] for d in platform.corpus.documents(collection) if title_part.lower() in d["title"].lower())


def ctx(platform, role: str, tenant: str = "acme") -> RequestContext:
    return RequestContext.for_tenant(platform.settings, tenant, user=f"{tenant}-{role}", role=role)


# --- recorded at ingest ---------------------------------------------------------------------------------------
def test_findings_are_recorded_with_type_offsets_chunk_and_page(world):
    contacts = doc_id(world, "acme-people", "vendor")
    found = document_findings(world, contacts)
    assert found.scanned and found.mode == "flag" and not found.redacted
    assert found.counts["EMAIL_ADDRESS"] == 1 and found.counts["PHONE_NUMBER"] == 1
    text = world.corpus.document(contacts).text
    chunks = {c.id: c for c in world.corpus.chunks(contacts)}
    values = {place["entity type"]: text[place["char_start"]:place["char_end"]] for place in found.places}
    assert values["EMAIL_ADDRESS"] == EMAIL and values["PHONE_NUMBER"] == PHONE  # offsets in the stored text
    for place in found.places:
        chunk = chunks[place["chunk id"]]
        assert chunk.char_start <= place["char_start"] < chunk.char_end and place["chunk"] == chunk.ordinal + 1
        assert 0 < place["score"] <= 1 and place["page"] is None  # markdown has no pages

    pdf = document_findings(world, doc_id(world, "acme-people", "handbook"))
    assert [(p["entity type"], p["page"]) for p in pdf.places if p["entity type"] == "EMAIL_ADDRESS"] == \
        [("EMAIL_ADDRESS", 2)]


def test_no_value_is_kept_in_clear_by_the_findings_tables(world):
    rows = []
    for table in ("document_pii", "document_pii_scans"):
        with world.store.cursor() as cur:
            rows += cur.execute(f"SELECT * FROM {table}").fetchall()
    cells = " ".join(str(cell) for row in rows for cell in row).casefold()
    digits = re.sub(r"\D", "", PHONE)
    assert rows and not [v for v in (EMAIL, PDF_EMAIL, "okafor", PHONE, digits, "2079460958", *SECRETS)
                         if v.casefold() in cells]
    hashes = world.store.query("SELECT DISTINCT value_hash FROM document_pii")
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for (h,) in hashes)


def test_a_value_is_normalised_before_it_is_hashed():
    assert normalise("email", "  Margaret.OKAFOR@Example.com ") == EMAIL
    assert normalise("phone", "+44 (20) 7946-0958") == normalise("phone", "020 7946 0958") == \
        normalise("phone", "0044 20 7946 0958") == "2079460958"
    assert normalise("phone", "+1 555 123 4567") == normalise("phone", "(555) 123-4567") == "5551234567"
    assert normalise("text", "  Margaret \n OKAFOR ") == "margaret okafor"
    assert normalise("alnum", "gb33 bukb 2020 1555 5555 55") == "GB33BUKB20201555555555"


def test_the_hash_is_keyed_by_the_installation(tmp_path):
    one, other = tmp_path / "one", tmp_path / "other"
    assert value_hash(one, "EMAIL_ADDRESS", EMAIL) == value_hash(one, "EMAIL_ADDRESS", EMAIL.upper())
    assert value_hash(one, "EMAIL_ADDRESS", EMAIL) != value_hash(other, "EMAIL_ADDRESS", EMAIL)  # another salt
    assert value_hash(one, "EMAIL_ADDRESS", EMAIL) in search_hashes(one, f" {EMAIL.title()} ")


# --- searched by value --------------------------------------------------------------------------------------------
def titles(matches) -> list[str]:
    return sorted(m.title for m in matches)


def test_the_search_finds_a_document_by_its_email_and_by_a_phone_in_another_format(world):
    operator = ctx(world, "operator")
    by_email = documents_with_value(world, "Margaret.Okafor@EXAMPLE.com", ctx=operator)
    assert titles(by_email) == ["Vendor contacts"] and by_email[0].entity_types == ["EMAIL_ADDRESS"]
    place = by_email[0].places[0]
    assert place["chunk_id"] in {c.id for c in world.corpus.chunks(by_email[0].document_id)} and place["chunk"] >= 1
    by_phone = documents_with_value(world, "020 7946-0958", ctx=operator)
    assert titles(by_phone) == ["Vendor contacts"] and by_phone[0].entity_types == ["PHONE_NUMBER"]
    assert [m.places[0]["page"] for m in documents_with_value(world, PDF_EMAIL, ctx=operator)] == [2]
    assert documents_with_value(world, "nobody@example.com", ctx=operator) == []


def test_the_search_never_answers_from_another_tenants_collections(world):
    assert titles(documents_with_value(world, EMAIL, ctx=ctx(world, "operator"))) == ["Vendor contacts"]
    assert titles(documents_with_value(world, EMAIL, ctx=ctx(world, "operator", "globex"))) == ["Globex contacts"]
    assert titles(documents_with_value(world, EMAIL)) == ["Globex contacts", "Vendor contacts"]  # the system: all
    assert titles(documents_with_value(world, EMAIL, "acme-people", ctx(world, "admin"))) == ["Vendor contacts"]
    with pytest.raises(InputError) as unknown:
        documents_with_value(world, EMAIL, "globex-people", ctx(world, "operator"))
    assert unknown.value.field == "collection"


def test_the_search_is_for_operators_and_admins_only_and_names_a_bad_value(world):
    for role in ("analyst", "stakeholder"):
        with pytest.raises(Forbidden):
            documents_with_value(world, EMAIL, ctx=ctx(world, role))
    for bad in ("", "   ", "x" * 400):
        with pytest.raises(InputError) as error:
            documents_with_value(world, bad, ctx=ctx(world, "operator"))
        assert error.value.field == "value"


# --- a collection that redacts -------------------------------------------------------------------------------------
def test_a_collection_that_redacts_keeps_no_personal_data_in_duckdb_or_the_indexes(world):
    tables = [name for (name,) in world.store.query("SELECT table_name FROM information_schema.tables")]
    found = []
    for table in tables:
        with world.store.cursor() as cur:
            rows = cur.execute(f'SELECT * FROM "{table}"').fetchall()
        blob = " ".join(cell.decode("utf-8", "replace") if isinstance(cell, bytes) else str(cell)
                        for row in rows for cell in row)
        found += [(table, secret) for secret in SECRETS if secret in blob]
    assert found == []
    index_bytes = b"".join(p.read_bytes() for p in world.settings.index_dir.rglob("*") if p.is_file())
    assert not [s for s in SECRETS if s.encode() in index_bytes]


def test_redacted_text_has_its_findings_at_the_replacements(world):
    desk = doc_id(world, "acme-private", "desk")
    found = document_findings(world, desk)
    assert found.redacted and found.mode == "redact"
    text = world.corpus.document(desk).text
    assert {text[p["char_start"]:p["char_end"]] for p in found.places} == {
        "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<IBAN_CODE>"}
    assert all("<EMAIL_ADDRESS>" not in c.text or SECRETS[0] not in c.text for c in world.corpus.chunks(desk))
    # the value is still found by its hash, though no longer stored
    assert titles(documents_with_value(world, SECRETS[0].upper(), ctx=ctx(world, "operator"))) == ["Desk"]


def test_a_redacted_csv_is_kept_redacted_and_no_pdf_or_xlsx_original_is_kept(world):
    operator = ctx(world, "operator")
    csv_doc = next(d for d in world.corpus.documents("acme-private") if d["mime_type"] == "text/csv")
    table = load_table(world, operator, csv_doc)
    assert table.columns == ["name", "email", "team"] and len(table.rows) == 1
    assert table.rows[0][1] == "<EMAIL_ADDRESS>" and table.rows[0][2] == "payments"
    assert table.chunk_ids[0] is not None  # its redacted rows are the redacted text's lines
    with world.store.cursor() as cur:
        kept = dict(cur.execute("SELECT d.mime_type, count(f.document_id) FROM documents d JOIN collections c"
                                " ON c.id = d.collection_id LEFT JOIN document_files f ON f.document_id = d.id"
                                " WHERE c.name = 'acme-private' GROUP BY 1").fetchall())
    assert kept == {"text/csv": 1, "application/pdf": 0, "text/markdown": 0,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 0}

    xlsx = next(d for d in world.corpus.documents("acme-private") if d["mime_type"].endswith("sheet"))
    with pytest.raises(TableUnreadable, match="redacts personal data at ingest, so the original XLSX was not kept"):
        load_table(world, operator, xlsx)
    notice = doc_id(world, "acme-private", "notice")
    assert (world.files / "private" / "notice.pdf").is_file()  # its source is there, and must not be shown either
    with pytest.raises(PageImageUnavailable, match="redacts personal data at ingest, so the original PDF was not kept"):
        render_page_image(world, notice, 1, ctx=operator)
    handbook = doc_id(world, "acme-people", "handbook")  # a PDF of a collection that only flags keeps its pages
    assert render_page_image(world, handbook, 2, ctx=operator).masked >= 1


# --- the collection setting ---------------------------------------------------------------------------------------
def test_the_setting_is_audited_checked_and_defaults_to_the_global_one(world):
    assert world.corpus.pii_modes(ctx(world, "operator")) == {"acme-people": "flag", "acme-private": "redact"}
    changed = world.corpus.set_pii_at_ingest("acme-people", "redact", ctx(world, "operator"))
    assert changed == {"name": "acme-people", "tenant": "acme", "pii_at_ingest": "redact"}
    row = world.gateway.audit_log(limit=1, action="collection.settings")[0]
    assert row["actor"] == "acme-operator" and row["target"] == "acme-people"
    assert row["details"] == {"tenant": "acme", "setting": "pii_at_ingest", "from": "flag", "to": "redact"}
    world.corpus.set_pii_at_ingest("acme-people", "flag", ctx(world, "operator"))
    contacts = doc_id(world, "acme-people", "vendor")
    assert EMAIL in world.corpus.document(contacts).text  # a change rewrites no stored document

    with pytest.raises(InputError) as bad:
        world.corpus.set_pii_at_ingest("acme-people", "mask", ctx(world, "operator"))
    assert bad.value.field == "pii_at_ingest"
    with pytest.raises(Forbidden):
        world.corpus.set_pii_at_ingest("acme-people", "redact", ctx(world, "analyst"))
    with pytest.raises(InputError):  # another tenant's collection does not exist for the caller
        world.corpus.set_pii_at_ingest("globex-people", "redact", ctx(world, "operator"))

    world.derive(redact_at_ingest=True).corpus.create_collection("acme-new", tenant="acme")
    assert world.corpus.pii_modes()["acme-new"] == "redact"
    with world.store.transaction() as cur:  # a collection made before the setting existed has none
        cur.execute("UPDATE collections SET pii_at_ingest = NULL WHERE name = 'acme-new'")
    row = world.corpus.collection_row("acme-new")
    assert collection_mode(row, world.settings) == "flag"
    assert collection_mode(row, world.settings.model_copy(update={"redact_at_ingest": True})) == "redact"


# --- findings follow their document ---------------------------------------------------------------------------
def test_a_new_version_replaces_the_findings_and_a_delete_removes_them(world):
    leaver_path = world.files / "acme" / "leaver.md"
    leaver = doc_id(world, "acme-people", "leaver")
    operator = ctx(world, "operator")
    assert titles(documents_with_value(world, "leaver.person@example.com", ctx=operator)) == ["Leaver"]
    leaver_path.write_text("# Leaver\n\nForward mail for successor.person@example.com to the desk now.\n")
    assert world.corpus.reingest_document(leaver, operator).version == 2
    assert documents_with_value(world, "leaver.person@example.com", ctx=operator) == []
    assert titles(documents_with_value(world, "successor.person@example.com", ctx=operator)) == ["Leaver"]
    with world.store.cursor() as cur:
        assert cur.execute("SELECT DISTINCT version FROM document_pii WHERE document_id = ?", [leaver]).fetchall() == [(2,)]
        assert document_pii.document_scan(cur, leaver)["version"] == 2

    world.corpus.move_document(leaver, "acme-archive", operator)  # findings follow the document
    assert [m.collection for m in documents_with_value(world, "successor.person@example.com", ctx=operator)] == \
        ["acme-archive"]
    world.corpus.delete_document(leaver, operator)
    assert documents_with_value(world, "successor.person@example.com", ctx=operator) == []
    with world.store.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM document_pii WHERE document_id = ?", [leaver]).fetchone()[0] == 0
        assert cur.execute("SELECT count(*) FROM document_pii_scans WHERE document_id = ?", [leaver]).fetchone()[0] == 0
    world.corpus.delete_collection("acme-archive", operator)


def test_findings_are_written_in_the_chunks_transaction(world, monkeypatch):
    def fail(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(document_pii, "write_findings", fail)
    path = world.files / "acme" / "late.md"
    path.write_text("# Late\n\nThe late joiner is late.joiner@example.com until Friday.\n")
    report = world.corpus.ingest([path], "acme-people")
    assert report.files[0].outcome == "failed" and "disk full" in report.files[0].message
    assert not [d for d in world.corpus.documents("acme-people") if d["title"] == "Late"]  # nor its chunks


# --- the backfill -------------------------------------------------------------------------------------------------
def test_pii_scan_records_findings_of_documents_ingested_before_and_prints_no_value(settings, tmp_path, capsys):
    from backend.cli import main

    (tmp_path / "old.md").write_text(CONTACTS)
    (tmp_path / "plain.md").write_text("# Plain\n\nNothing personal is written in this note at all.\n")
    with Platform(settings) as platform:
        platform.corpus.ingest([tmp_path / "old.md", tmp_path / "plain.md"], "old")
        platform.corpus.ingest_records("other", [LoadedDocument(source="other.md", title="Other", mime_type="text/markdown",
                                                                text="Another note without anything personal.")])
        with platform.store.cursor() as cur:
            recorded = cur.execute("SELECT document_id, chunk_id, entity_type, char_start, char_end, page, value_hash"
                                   " FROM document_pii ORDER BY ALL").fetchall()
        with platform.store.transaction() as cur:  # as ingested before migration 090: nothing recorded
            cur.execute("DELETE FROM document_pii")
            cur.execute("DELETE FROM document_pii_scans")
        old = doc_id(platform, "old", "vendor")

    assert main(["pii-scan", "--collection", "old"]) == 0
    out = capsys.readouterr().out
    assert "scanned 2 document(s) in collection old: 1 hold personal data" in out
    assert re.search(r"EMAIL_ADDRESS\s+1", out) and re.search(r"PHONE_NUMBER\s+1", out)
    assert not [v for v in (EMAIL, PHONE, "Okafor") if v in out]
    with Platform(settings) as platform:
        with platform.store.cursor() as cur:
            again = cur.execute("SELECT document_id, chunk_id, entity_type, char_start, char_end, page, value_hash"
                                " FROM document_pii ORDER BY ALL").fetchall()
            scans = cur.execute("SELECT count(*) FROM document_pii_scans").fetchone()[0]
        assert again == recorded and scans == 2  # what ingest would have recorded; 'other' not scanned
        assert titles(documents_with_value(platform, EMAIL)) == ["Vendor contacts"]
        assert document_findings(platform, old).scanned

    assert main(["pii-scan", "--collection", "old"]) == 0
    assert "nothing to scan in collection old" in capsys.readouterr().out
    assert main(["pii-scan"]) == 0
    assert "scanned 1 document(s) in every collection: 0 hold personal data" in capsys.readouterr().out
    assert main(["pii-scan", "--collection", "nope"]) == 2
    assert "collection 'nope' does not exist" in capsys.readouterr().err
