"""An e-mail's attachments through their lifecycle: deleting a mail deletes its attachments' documents in one
operation (service, API route), deleting one attachment deletes only it; erasure finds and erases a person named in
an attachment (the uploaded mail file holds it too); retention expires an attachment alone, or a mail with its own."""
from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from itertools import count
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from backend.clock import utc_now
from backend.context import RequestContext
from backend.corpus.upload import uploads_dir
from backend.gateway import api_models_corpus as mc
from backend.gateway.http_documents import DocumentRoutes
from backend.ingest.attachments import attachment_source, is_attachment, mail_source, source_file
from backend.platform import Platform
from backend.privacy.retention import apply_retention_policies
from backend.privacy.subject import subject_request
from backend.privacy.subject_requests import erase_subject_data, find_subject_data
from backend.settings import Settings
from tests.ingest.make_msg import make_msg_bytes

SEP = " › "
NAME, EMAIL = "Zephyrine Quillfeather", "zephyrine.quillfeather@example.com"
RATES = "product,rate\nQuokka saver,4.1 percent\nEasy access,2.0 percent\n"
NOTES = (f"Visit notes\n\nThe wombat inspection of the harbour branch was led by {NAME} ({EMAIL}), "
         "who found the vault door sticking.\n")
ATTACHMENTS = [("rates.csv", RATES.encode()), ("visit-notes.txt", NOTES.encode())]
_names = count(1)


def eml_bytes() -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = "Branch Office <branch@example.com>", "Audit <audit@example.com>"
    message["Subject"], message["Date"] = "Branch review", "Fri, 14 Mar 2025 09:30:00 +0000"
    message.set_content("Please find the rates and the visit notes of the branch review attached.")
    message.add_attachment(RATES.encode(), maintype="text", subtype="csv", filename="rates.csv")
    message.add_attachment(NOTES.encode(), maintype="text", subtype="plain", filename="visit-notes.txt")
    return bytes(message)


def msg_bytes() -> bytes:
    return make_msg_bytes("Branch review", "Please find the rates and the visit notes attached.",
                          {"From": "Branch Office <branch@example.com>", "To": "Audit <audit@example.com>"},
                          ATTACHMENTS)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with Platform(Settings(data_dir=tmp_path_factory.mktemp("gw-attachments") / "data")) as instance:
        yield instance


def ingest_mail(platform, folder: Path, mail: str = "review.eml", data: bytes | None = None,
                collection: str | None = None) -> tuple[str, dict]:
    """A new collection holding the mail (its two attachments their own documents) and a memo; name -> document id."""
    collection = collection or f"mail{next(_names)}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / mail).write_bytes(data if data is not None else eml_bytes())
    (folder / "memo.md").write_text("# Memo\n\nThe platypus audit is on Friday.\n")
    report = platform.corpus.ingest([folder], collection)
    ids = {Path(f.path).name.replace(f"{mail}{SEP}", ""): f.document_id for f in report.files}
    assert {f.outcome for f in report.files} == {"ingested"}, [(f.path, f.message) for f in report.files]
    assert set(ids) == {mail, "rates.csv", "visit-notes.txt", "memo.md"}
    return collection, ids


def rows(platform, sql: str, ids) -> int:
    return platform.store.query(sql, [list(ids)])[0][0]


def hits(platform, collection: str, query: str) -> set[int]:
    return {h.chunk.document_id for mode in ("bm25", "dense")
            for h in platform.retriever.search(query, collection, mode=mode, k=10)}


# --- the helper -------------------------------------------------------------------------------------------
def test_one_helper_says_which_documents_are_attachments_and_of_which_mail():
    source = attachment_source("/in/review.eml", "rates.csv")
    assert source == f"/in/review.eml{SEP}rates.csv"
    assert mail_source(source, {"attached_to": "/in/review.eml"}) == "/in/review.eml"
    assert mail_source(f"/in/review.eml{SEP}inner.eml{SEP}a.csv", {"attached_to": "/in/review.eml"}) == "/in/review.eml"
    assert mail_source(source) == "/in/review.eml"  # an ingest report's path: the source alone
    # A file whose own name holds the separator, recorded with no mail: no attachment.
    assert not is_attachment(f"/in/odd{SEP}name.txt", {}) and not is_attachment("/in/review.eml", {})
    assert source_file(source, {"attached_to": "/in/review.eml"}) == Path("/in/review.eml")
    assert source_file("/in/memo.md", {}) == Path("/in/memo.md")


# --- deletes ----------------------------------------------------------------------------------------------
def test_deleting_a_mail_deletes_its_attachments_in_one_operation(platform, tmp_path):
    collection, ids = ingest_mail(platform, tmp_path / "inbox", "review.msg", msg_bytes())
    mail, attached = ids["review.msg"], {ids["rates.csv"], ids["visit-notes.txt"]}
    three = [mail, *attached]
    assert {a["id"] for a in platform.corpus.attachments(mail)} == attached
    assert platform.corpus.attachments(ids["memo.md"]) == [] and platform.corpus.attachments(ids["rates.csv"]) == []
    chunks = rows(platform, "SELECT count(*) FROM chunks WHERE document_id IN (SELECT unnest(?))", three)
    # Not vacuous: the notes' person was recorded at ingest, the CSV's original stored, both are searchable.
    assert rows(platform, "SELECT count(*) FROM document_pii WHERE document_id IN (SELECT unnest(?))", three) > 0
    assert rows(platform, "SELECT count(*) FROM document_files WHERE document_id IN (SELECT unnest(?))", three) > 0
    assert ids["rates.csv"] in hits(platform, collection, "Quokka saver rate")
    assert ids["visit-notes.txt"] in hits(platform, collection, "wombat inspection vault door")

    deletion = platform.corpus.remove_document(mail)
    assert {a["id"] for a in deletion.attachments} == attached and deletion.chunks == chunks > 0
    assert {a["chunks"] for a in deletion.attachments} != {0}
    assert {d["id"]: d["status"] for d in platform.corpus.documents(collection, status=None)} == {
        **{i: "deleted" for i in three}, ids["memo.md"]: "active"}
    for table in ("chunks", "document_pii", "document_files"):
        assert rows(platform, f"SELECT count(*) FROM {table} WHERE document_id IN (SELECT unnest(?))", three) == 0
    for query in ("Quokka saver rate", "wombat inspection vault door", "branch review rates visit notes"):
        assert not hits(platform, collection, query) & set(three), query
    assert ids["memo.md"] in hits(platform, collection, "platypus audit Friday")
    audit = platform.gateway.audit_log(action="document.delete")
    assert next(a for a in audit if a["target"] == str(mail))["details"]["attachments"] == 2
    assert {int(a["target"]) for a in audit if a["details"].get("with_mail") == mail} == attached


def test_deleting_one_attachment_deletes_only_it(platform, tmp_path):
    collection, ids = ingest_mail(platform, tmp_path / "inbox")
    deletion = platform.corpus.remove_document(ids["visit-notes.txt"])
    assert deletion.attachments == [] and deletion.ids == [ids["visit-notes.txt"]]
    active = {d["id"] for d in platform.corpus.documents(collection)}
    assert active == {ids["review.eml"], ids["rates.csv"], ids["memo.md"]}
    assert ids["rates.csv"] in hits(platform, collection, "Quokka saver rate")
    assert ids["visit-notes.txt"] not in hits(platform, collection, "wombat inspection vault door")
    # The mail now takes only the attachment it still has.
    assert [a["id"] for a in platform.corpus.attachments(ids["review.eml"])] == [ids["rates.csv"]]
    assert platform.corpus.delete_document(ids["review.eml"]) > 0
    assert {d["id"] for d in platform.corpus.documents(collection)} == {ids["memo.md"]}


def test_the_api_delete_answers_which_attachments_went_with_the_mail(platform, tmp_path):
    collection, ids = ingest_mail(platform, tmp_path / "inbox")

    class Gate:  # the route's own code; the caller (an operator's key, checked elsewhere) is the system context
        async def caller(self, request, route, scope=None):
            return SimpleNamespace(platform=SimpleNamespace(corpus=platform.corpus, gateway=SimpleNamespace(
                require_role=lambda identity, role: None)), ctx=None, identity=None)

    app = Starlette(routes=DocumentRoutes(Gate()).routes())
    with TestClient(app) as client:
        answer = client.delete(f"/documents/{ids['review.eml']}").json()
        single = client.delete(f"/documents/{ids['memo.md']}").json()
    deleted = mc.DeletedDocument.model_validate(answer)
    assert sorted(deleted.attachments_removed) == sorted([ids["rates.csv"], ids["visit-notes.txt"]])
    assert deleted.collection == collection and deleted.chunks_removed >= 3
    assert mc.DeletedDocument.model_validate(single).attachments_removed == []


# --- erasure ------------------------------------------------------------------------------------------------
def test_erasure_of_a_person_named_in_an_attachment(platform):
    collection = f"mail{next(_names)}"
    platform.corpus.create_collection(collection)
    folder = uploads_dir(platform, collection)  # as an upload keeps it: the mail file is the platform's
    collection, ids = ingest_mail(platform, folder, collection=collection)
    admin = RequestContext(settings=platform.settings, user="dpo-admin", role="admin")
    request = subject_request(names=[NAME], emails=[EMAIL])

    _, found = find_subject_data(platform, admin, request)
    # The mail's own text never names the person: its file is found by the attachment inside it.
    assert {Path(o.row).name for o in found.occurrences if o.store == "uploaded files"} == {"review.eml"}
    assert any(o.table == "chunks" for o in found.occurrences)

    outcome = erase_subject_data(platform, admin, request)
    assert outcome.remaining == 0
    # Left: the other tests' mails outside the data dir, which name the person in their attachments too; listed (now
    # that a mail's attachments are read) and kept, as any source file the platform does not own.
    left = outcome.after.occurrences
    assert {(o.store, o.action) for o in left} <= {("source files", "keep")}
    assert not any(Path(o.row).is_relative_to(platform.settings.data_dir) for o in left)
    assert outcome.report.files == {"uploaded files deleted": 1} and not (folder / "review.eml").exists()
    notes = platform.corpus.document(ids["visit-notes.txt"])
    assert "Quillfeather" not in notes.text and "<PERSON>" in notes.text and "wombat inspection" in notes.text
    assert {d["id"] for d in platform.corpus.documents(collection)} == set(ids.values())  # redacted, not deleted
    assert "Quokka saver | rate: 4.1 percent" in platform.corpus.document(ids["rates.csv"]).text  # no one's data
    assert ids["visit-notes.txt"] in hits(platform, collection, "wombat inspection vault door")


# --- retention ----------------------------------------------------------------------------------------------
def age(platform, document_ids, days: int) -> None:
    when = utc_now() - timedelta(days=days)
    for document_id in document_ids:
        platform.store.execute("UPDATE documents SET updated_at = ? WHERE id = ?", [when, document_id])
        platform.store.execute("UPDATE ingest_files SET created_at = ? WHERE document_id = ?", [when, document_id])


def versions(platform, document_ids) -> int:
    return rows(platform, "SELECT count(*) FROM document_versions WHERE document_id IN (SELECT unnest(?))",
                document_ids)


def test_retention_expires_an_attachment_alone(platform, tmp_path):
    collection, ids = ingest_mail(platform, tmp_path / "inbox")
    platform.corpus.set_retention_days(collection, 30)
    age(platform, [ids["visit-notes.txt"]], 40)  # its mail was read again since without it
    report = apply_retention_policies(platform, collection=collection)
    entry = next(c for c in report.collections if c.name == collection)
    assert entry.error is None and entry.deleted == 1 and [d["id"] for d in entry.documents] == [ids["visit-notes.txt"]]
    assert {d["id"] for d in platform.corpus.documents(collection)} == {ids["review.eml"], ids["rates.csv"],
                                                                         ids["memo.md"]}
    assert versions(platform, [ids["visit-notes.txt"]]) == 0 and versions(platform, [ids["rates.csv"]]) == 1
    assert (tmp_path / "inbox" / "review.eml").exists()  # the mail's file holds the others: never touched


def test_expiring_a_mail_expires_its_attachments(platform, tmp_path):
    collection, ids = ingest_mail(platform, tmp_path / "inbox")
    platform.corpus.set_retention_days(collection, 30)
    mail, attached = ids["review.eml"], {ids["rates.csv"], ids["visit-notes.txt"]}
    age(platform, [mail], 40)
    preview = next(c for c in apply_retention_policies(platform, dry_run=True, collection=collection).collections
                   if c.name == collection)
    assert [d["id"] for d in preview.documents][0] == mail and len(preview.documents) == 3
    assert {d["id"] for d in preview.documents[1:]} == attached
    assert {d["attachment_of"] for d in preview.documents[1:]} == {mail} and preview.documents[1]["age_days"] == 40

    entry = next(c for c in apply_retention_policies(platform, collection=collection).collections
                 if c.name == collection)
    assert entry.error is None and entry.deleted == 3 and entry.chunks >= 3
    assert {d["id"] for d in platform.corpus.documents(collection)} == {ids["memo.md"]}
    assert versions(platform, [mail, *attached]) == 0
    assert not hits(platform, collection, "Quokka saver rate") & {mail, *attached}
