"""The erasure test of issue 19: one person's e-mail and name planted in a document (ingested for real), a conversation,
a cached answer, a trace and a feedback comment are found in every store, exported, erased, and then found nowhere:
not in any text column of any DuckDB table, not in the index files; everyone else's data is intact."""
from __future__ import annotations

import io
import json
import re

import pytest

from backend.context import RequestContext
from backend.corpus.upload import uploads_dir
from backend.platform import Platform
from backend.privacy.subject import subject_request
from backend.privacy.subject_requests import erase_subject_data, export_subject_data, find_subject_data
from backend.retrieval.lexical import LexicalIndex
from backend.settings import Settings

EMAIL, NAME, PHONE, CUSTOMER = "Zephyrine.Quillfeather@example.com", "Zephyrine Quillfeather", "+44 20 7946 0958", "NWL-778812"
TOKENS = ("zephyrine", "quillfeather")
OTHER_EMAIL, OTHER_NAME = "b.ngata@example.org", "Bartholomew Ngata"
COMPLAINT = f"""# Complaint from {NAME}

Our customer {NAME} ({EMAIL.lower()}, phone 020 7946 0958, customer id {CUSTOMER}) complained that her international
transfer fee was charged twice in March. The complaints team (complaints@northwind.example.com) agreed a refund.

## Follow-up

{NAME.split()[1]}, {NAME.split()[0]} confirmed by phone on 02079460958 that the refund arrived on 14 March.
"""
SAVINGS = f"""# Savings enquiry

{OTHER_NAME} ({OTHER_EMAIL}) asked about the easy-access savings account. The variable interest rate is 4.1 percent
and withdrawals are free of charge.
"""
CUSTOMERS = (f"customer_id,name,email,phone\n{CUSTOMER},{NAME},{EMAIL.lower()},{PHONE}\n"
             f"NWL-100200,{OTHER_NAME},{OTHER_EMAIL},+44 20 7946 0111\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A platform with the person's data planted in every store named by the issue, and another person's beside it."""
    data_dir = tmp_path_factory.mktemp("dsr") / "gw-data"
    platform = Platform(Settings(data_dir=data_dir))
    platform.corpus.create_collection("notes")
    folder = uploads_dir(platform, "notes")  # as an upload would keep them: the data dir holds the sources too
    folder.mkdir(parents=True)
    for name, text in {"complaint.md": COMPLAINT, "savings.md": SAVINGS, "customers.csv": CUSTOMERS}.items():
        (folder / name).write_text(text)
    report = platform.corpus.ingest([folder], collection="notes")
    assert {f.outcome for f in report.files} == {"ingested"}, [f.message for f in report.files]

    chat, store = platform.chat, platform.store
    mine = chat.ask(f"I am {NAME}, {EMAIL}: why was my international transfer fee charged twice?", collection="notes")
    theirs = chat.ask("What is the interest rate of the easy-access savings account?", collection="notes")
    # Questions are redacted before they are stored: plant the raw values where redaction would have hidden them,
    # as rows written before redaction existed would hold them.
    store.execute("UPDATE messages SET content = ? WHERE conversation_id = ? AND role = 'user'",
                  [f"{NAME} here, reach me at {EMAIL}", mine.conversation_id], lane="chat")
    store.execute("UPDATE cache_entries SET question = ? WHERE id = (SELECT max(id) FROM cache_entries)",
                  [f"why was {EMAIL} charged twice ({NAME})"], lane="chat")
    chat.feedback(mine.message_id, 0, comment=f"Please call {NAME} back on {PHONE}")
    store.execute("UPDATE feedback SET comment = ? WHERE message_id = ?",
                  [f"Please call {NAME} back on {PHONE}, or write to {EMAIL}", mine.message_id], lane="chat")
    with platform.tracer.request("support.lookup", customer=f"{NAME} <{EMAIL}>", collection="notes") as root:
        root.set(note=f"looked up {CUSTOMER}")
    platform.tracer.flush()
    with store.cursor() as cur:
        theirs_before = cur.execute("SELECT id, content, answer FROM messages WHERE conversation_id = ? ORDER BY id",
                                    [theirs.conversation_id]).fetchall()
    yield {"platform": platform, "folder": folder, "mine": mine, "theirs": theirs, "theirs_before": theirs_before,
           "admin": RequestContext(settings=platform.settings, user="dpo-admin", role="admin"),
           "request": subject_request(emails=[EMAIL], names=[NAME], phones=["020 7946 0958"], customer_ids=[CUSTOMER])}
    platform.close()


def test_find_lists_every_store_with_the_identifiers_masked(world):
    platform = world["platform"]
    request_id, findings = find_subject_data(platform, world["admin"], world["request"])
    stores = findings.by_store()
    for store in ("documents", "chunks", "search indexes", "index files", "stored originals", "uploaded files",
                  "conversations", "answer cache", "traces", "feedback"):
        assert stores.get(store), (store, stores)
    tables = {o.table for o in findings.occurrences}
    assert {"documents", "document_versions", "chunks", "document_files", "messages", "cache_entries", "spans",
            "traces", "feedback"} <= tables
    assert {o.kind for o in findings.occurrences} == {"email", "name", "phone", "customer_id"}
    listing = json.dumps([o.listing() for o in findings.occurrences]).lower()
    assert EMAIL.lower() not in listing and "quillfeather" not in listing and "7946 0958" not in listing
    assert "<EMAIL_ADDRESS>" in listing.upper() and "<PERSON>" in listing.upper()
    assert {"messages", "spans", "document_versions", "eval_results", "audit_log"} <= set(findings.covered)
    assert "schema_migrations" in findings.generic_only  # no finder knows it: the generic scan still reads it
    assert "not present in this installation" in findings.notes["fine-tune datasets"]
    assert not findings.retained  # the sources are uploads in the data dir: nothing outside it, no account
    world["found"] = findings


def test_export_json_has_every_occurrence_unmasked_and_pdf_is_a_pdf(world):
    from pypdf import PdfReader

    platform, findings = world["platform"], world["found"]
    report = json.loads(export_subject_data(platform, world["admin"], world["request"], "json", findings))
    assert report["summary"]["occurrences"] == len(findings.occurrences)
    values = {o["value"].lower() for occurrences in report["stores"].values() for o in occurrences}
    assert EMAIL.lower() in values and NAME.lower() in values and "020 7946 0958" in values
    assert set(report["stores"]) == set(findings.by_store())
    pdf = export_subject_data(platform, world["admin"], world["request"], "pdf", findings)
    assert pdf.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert EMAIL.lower() in " ".join(text.split()).lower() and "conversations" in text


def test_the_audit_log_records_each_request_but_never_the_identifiers(world):
    rows = world["platform"].gateway.audit_log(action="dsr.")
    assert [r["action"] for r in rows][:3] == ["dsr.export", "dsr.export", "dsr.find"]
    assert {r["actor"] for r in rows} == {"dpo-admin"}
    find = rows[-1]["details"]
    assert find["identifiers"] == {"email": 1, "phone": 1, "name": 1, "customer_id": 1} and find["stores"]["chunks"]
    logged = json.dumps(rows, default=str).lower()
    for secret in (EMAIL.lower(), *TOKENS, "2079460958", CUSTOMER.lower()):
        assert secret not in logged, secret
    assert len({r["details"]["subject"] for r in rows}) == 1  # one keyed hash links one person's requests


def _raw_hits(platform) -> list[str]:
    """Every text, JSON, list or BLOB cell of every DuckDB table that holds the e-mail, a name token or the phone."""
    hits = []
    with platform.store.cursor() as cur:
        columns = cur.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c JOIN "
            "information_schema.tables t USING (table_schema, table_name) WHERE t.table_type = 'BASE TABLE'").fetchall()
        for table, column, data_type in columns:
            if data_type == "BLOB":
                for (value,) in cur.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL').fetchall():
                    raw = bytes(value).lower()
                    hits += [f"{table}.{column}" for s in (EMAIL.lower(), *TOKENS) if s.encode() in raw]
            elif "VARCHAR" in data_type or data_type == "JSON":
                text = f'lower(CAST("{column}" AS VARCHAR))'
                digits = f"regexp_replace(CAST(\"{column}\" AS VARCHAR), '[^0-9]', '', 'g')"
                found = cur.execute(f'SELECT count(*) FROM "{table}" WHERE contains({text}, ?) OR contains({text}, ?) '
                                    f"OR contains({text}, ?) OR contains({digits}, '2079460958')",
                                    [EMAIL.lower(), *TOKENS]).fetchone()[0]
                hits += [f"{table}.{column}"] * found
    return hits


def _index_file_hits(platform) -> list[str]:
    stems = LexicalIndex().tokenize_query(" ".join(TOKENS))  # what BM25 stores of the name
    needles = [EMAIL.lower().encode(), *(t.encode() for t in (*TOKENS, *stems))]
    return [str(path) for path in platform.settings.index_dir.rglob("*") if path.is_file()
            for needle in needles if needle in path.read_bytes().lower()]


def test_the_data_is_in_the_raw_tables_and_index_files_before_erasure(world):
    # not vacuous: the same raw checks that must come back empty afterwards do find the planted data now
    hits = _raw_hits(world["platform"])
    assert {"messages.content", "feedback.comment", "cache_entries.question", "spans.attributes",
            "document_versions.text", "chunks.text", "document_files.content"} <= set(hits)
    assert _index_file_hits(world["platform"])


def test_erase_then_nothing_is_found_anywhere(world):
    platform = world["platform"]
    outcome = erase_subject_data(platform, world["admin"], world["request"])
    assert outcome.remaining == 0 and outcome.after.occurrences == []
    touched = outcome.report.touched
    for store in ("documents", "chunks", "stored originals", "conversations", "answer cache", "traces", "feedback"):
        assert touched.get(store), (store, touched)
    assert outcome.report.collections_reindexed == ["notes"] and outcome.report.chunks_replaced >= 1
    assert outcome.report.files == {"uploaded files rewritten": 2}
    assert _raw_hits(platform) == []
    assert _index_file_hits(platform) == []
    folder = world["folder"]
    for name in ("complaint.md", "customers.csv"):
        text = (folder / name).read_text()
        assert not re.search("|".join(TOKENS), text, re.I) and "<PERSON>" in text
    audit = platform.gateway.audit_log(action="dsr.erase")[0]["details"]
    assert audit["status"] == "done" and audit["remaining"] == 0 and audit["touched"]["chunks"]["chunks"] >= 1
    assert EMAIL.lower() not in json.dumps(audit).lower()


def test_everyone_elses_data_is_intact(world):
    platform = world["platform"]
    hits = platform.retriever.search("easy-access savings account interest rate", collection="notes", k=3)
    assert OTHER_NAME in hits[0].chunk.text and OTHER_EMAIL in hits[0].chunk.text
    with platform.store.cursor() as cur:
        theirs = cur.execute("SELECT id, content, answer FROM messages WHERE conversation_id = ? ORDER BY id",
                             [world["theirs"].conversation_id]).fetchall()
        assert theirs == world["theirs_before"]
        [complaint] = [d for d in platform.corpus.documents("notes") if d["title"].startswith("Complaint from")]
        text = platform.corpus.document(complaint["id"]).text
        csv = cur.execute("SELECT content FROM document_files").fetchall()
    assert "complaints@northwind.example.com" in text and "<EMAIL_ADDRESS>" in text and "charged twice" in text
    assert complaint["title"] == "Complaint from <PERSON>"
    assert OTHER_EMAIL.encode() in csv[0][0] and b"<CUSTOMER_ID>" in csv[0][0]
    # the redacted document is still found by what it is about; the person's conversation is still there, redacted
    found = platform.retriever.search("international transfer fee charged twice refund", collection="notes", k=3)
    assert any("<EMAIL_ADDRESS>" in h.chunk.text for h in found)
    assert platform.chat.memory.get(world["mine"].conversation_id) is not None
    again = erase_subject_data(platform, world["admin"], world["request"])
    assert again.report.touched == {} and again.remaining == 0  # erasing again finds nothing to do
