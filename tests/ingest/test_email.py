"""E-mail as documents: EML and MSG read as their headers plus body, each attachment its own ingest item and document
("<mail> › <attachment>"), unsupported ones failed by name; through local ingest, the upload job, the HTTP upload
answer and the remote CLI's report."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from backend.commands.ingest import _upload_all
from backend.corpus.upload import start_upload
from backend.gateway import api_models_corpus as mc
from backend.gateway.http_documents import DocumentRoutes
from backend.ingest.loaders import load_file
from backend.models import InputError
from backend.platform import Platform
from backend.settings import Settings
from tests.ingest.make_msg import compound_file
from tests.ingest.make_office import MAIL_SUBJECT, attached_pdf_bytes, make_eml, make_html_only_eml, make_msg

MAX = 10 * 1024 * 1024
SEP = " › "


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("mail")
    pdf = attached_pdf_bytes(folder)
    (folder / "fee-schedule.pdf").unlink()
    return SimpleNamespace(folder=folder, pdf=pdf, eml=make_eml(folder / "fees.eml", pdf=pdf, nested=True),
                           msg=make_msg(folder / "statement.msg", pdf=pdf))


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """One platform for the module's ingests (each into its own collection): the model loads once."""
    with Platform(Settings(data_dir=tmp_path_factory.mktemp("gw-mail") / "data")) as instance:
        yield instance


# --- load_file -----------------------------------------------------------------------------------------
def test_an_eml_reads_as_its_headers_and_plain_body(made):
    document = load_file(made.eml, MAX)
    assert document.title == MAIL_SUBJECT and document.mime_type == "message/rfc822"
    head, body = document.text.split("\n\n", 1)
    assert head.splitlines() == ["From: Maria Lopez <maria.lopez@example.com>", "To: Pricing Team <pricing@example.com>",
                                 "Cc: audit@example.com", "Date: Fri, 14 Mar 2025 09:30:00 +0000",
                                 f"Subject: {MAIL_SUBJECT}"]
    assert body.startswith("Dear team,") and "paper statement fee rises to 3 EUR" in body
    assert "Pricing desk" not in document.text  # only in the HTML alternative: the plain one is preferred
    assert document.metadata["from"] == "Maria Lopez <maria.lopez@example.com>"
    assert document.metadata["attachments"] == ["fee-schedule.pdf", "branches.csv", "setup.exe", "opening-hours.eml"]


def test_an_html_only_mail_is_read_as_the_html_page_reader_reads_it(tmp_path):
    document = load_file(make_html_only_eml(tmp_path / "news.eml"), MAX)
    assert document.title == "Newsletter"
    assert "<" not in document.text
    assert "Service: Paper statement | Fee: 3 EUR" in document.text  # its table, row by row with the header
    assert document.text.rstrip().endswith("Maria, Pricing desk")  # a mail's <footer> is the sender's, kept
    assert document.sections[-1].heading_path == ("Fee changes",)


def test_an_msg_reads_as_its_headers_and_body(made):
    document = load_file(made.msg, MAX)
    assert document.title == "Quarterly statement" and document.mime_type == "application/vnd.ms-outlook"
    assert document.text.splitlines()[:4] == ["From: Bank <statements@example.com>", "To: Client <client@example.com>",
                                              "Date: 2025-04-02 07:00:00+00:00", "Subject: Quarterly statement"]
    assert document.text.endswith("The account fee stays at 4 EUR.")
    assert document.metadata["attachments"] == ["statement.pdf", "movements.csv"]


def test_bad_mails_get_clear_messages(tmp_path, made):
    cases = {
        "binary.eml": (b"\x00\x01\x02garbage" * 50, "binary.eml: contains NUL bytes: binary content, not an e-mail"),
        "plain.eml": (b"just some words\nand more words\n", "plain.eml: has no e-mail headers"),
        "outlook.eml": (made.msg.read_bytes(), "outlook.eml: is an Outlook .msg file"),
        "text.msg": (b"From: a@example.com\nSubject: hi\n\nbody", "text.msg: is not an Outlook .msg file (not an OLE"),
        "other.msg": (compound_file({"WordDocument": b"\x00" * 700}), "other.msg: is not a readable Outlook .msg file"),
        "truncated.msg": (made.msg.read_bytes()[:3000], "truncated.msg: is not a readable Outlook .msg file"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError) as caught:
            load_file(tmp_path / name, MAX)
        assert str(caught.value).startswith(message), caught.value


# --- ingest: attachments as their own documents -----------------------------------------------------------------
def test_attachments_ingest_as_their_own_documents_and_reingest_unchanged(platform, made, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    eml = folder / "fees.eml"
    eml.write_bytes(made.eml.read_bytes())
    (folder / "statement.msg").write_bytes(made.msg.read_bytes())
    (folder / "broken.msg").write_bytes(b"not an outlook file")
    (folder / "memo.md").write_text("# Memo\n\nThe branch review is on Friday.\n")
    report = platform.corpus.ingest([folder], "mail")
    got = {f.path.replace(str(folder) + "/", ""): f for f in report.files}
    assert {name: f.outcome for name, f in got.items()} == {
        "broken.msg": "failed", "fees.eml": "ingested", f"fees.eml{SEP}fee-schedule.pdf": "ingested",
        f"fees.eml{SEP}branches.csv": "ingested", f"fees.eml{SEP}setup.exe": "failed",
        f"fees.eml{SEP}opening-hours.eml": "ingested", f"fees.eml{SEP}opening-hours.eml{SEP}weekend.csv": "ingested",
        "memo.md": "ingested", "statement.msg": "ingested", f"statement.msg{SEP}statement.pdf": "duplicate",
        f"statement.msg{SEP}movements.csv": "ingested"}
    assert list(got)[:6] == ["broken.msg", "fees.eml", f"fees.eml{SEP}fee-schedule.pdf", f"fees.eml{SEP}branches.csv",
                             f"fees.eml{SEP}setup.exe", f"fees.eml{SEP}opening-hours.eml"]  # each after its mail
    assert got[f"fees.eml{SEP}setup.exe"].message.startswith(f"fees.eml{SEP}setup.exe: unsupported file type '.exe'")
    assert got["broken.msg"].message.startswith("broken.msg: is not an Outlook .msg file")
    # The statement attaches the very PDF the fees mail does: one document, found as a copy of it.
    pdf_id = got[f"fees.eml{SEP}fee-schedule.pdf"].document_id
    assert got[f"statement.msg{SEP}statement.pdf"].message.startswith(f"same content as document {pdf_id}")

    pdf = platform.corpus.document(pdf_id)
    assert pdf.source == f"{eml}{SEP}fee-schedule.pdf" and pdf.title == "Fee schedule 2025"
    assert pdf.mime_type == "application/pdf" and pdf.metadata["attached_to"] == str(eml)
    csv = platform.corpus.document(got[f"fees.eml{SEP}branches.csv"].document_id)
    assert csv.title == "branches" and csv.metadata["attachment"] == "branches.csv"
    hit = platform.retriever.search("returned direct debit costs 9 EUR", "mail", mode="bm25", k=1)[0]
    assert hit.chunk.source == pdf.source and hit.chunk.page == 1
    hours = platform.retriever.search("Harbour Bristol opening hours", "mail", mode="bm25", k=1)[0]
    assert hours.chunk.source == csv.source

    again = platform.corpus.ingest([folder], "mail")
    skipped = ("setup.exe", "broken.msg", f"statement.msg{SEP}statement.pdf")  # failed, and the copy
    assert {f.outcome for f in again.files if not f.path.endswith(skipped)} == {"unchanged"}
    assert len(again.files) == len(report.files)

    # The same mail with another CSV: that attachment's document gets a new version, the rest stay.
    make_eml(eml, pdf=made.pdf, nested=True, csv="branch,city,opening hours\nNorth,Leeds,8-18\n")
    third = {f.path.replace(str(folder) + "/", ""): f for f in platform.corpus.ingest([eml], "mail").files}
    assert third[f"fees.eml{SEP}branches.csv"].outcome == "updated"
    assert third[f"fees.eml{SEP}branches.csv"].document_id == csv.id
    assert third[f"fees.eml{SEP}fee-schedule.pdf"].outcome == "unchanged"
    # Re-ingesting an attachment's document reads its mail again.
    assert platform.corpus.reingest_document(pdf.id).outcome == "unchanged"


def test_the_upload_job_and_the_http_answer_list_each_attachment(platform, made):
    mail = made.eml.read_bytes()
    job = start_upload(platform, "mail-uploads", [("fees.eml", mail), ("tool.exe", b"MZ" * 10)], create=True)
    assert job.wait(120)
    states = {f.name: (f.state, f.attachment_of) for f in job.snapshot()}
    assert states == {
        "fees.eml": ("ingested", ""), f"fees.eml{SEP}fee-schedule.pdf": ("ingested", "fees.eml"),
        f"fees.eml{SEP}branches.csv": ("ingested", "fees.eml"), f"fees.eml{SEP}setup.exe": ("failed", "fees.eml"),
        f"fees.eml{SEP}opening-hours.eml": ("ingested", "fees.eml"),
        f"fees.eml{SEP}opening-hours.eml{SEP}weekend.csv": ("ingested", "fees.eml"), "tool.exe": ("failed", "")}
    exe = next(f for f in job.snapshot() if f.name.endswith("setup.exe"))
    assert exe.detail.startswith("unsupported file type '.exe'")

    caller = SimpleNamespace(platform=platform, ctx=None)  # the system context: what the route's caller resolves to
    answer = DocumentRoutes._ingest(caller, "mail-uploads", [("fees.eml", mail)])
    mc.UploadResult.model_validate(answer)
    files = {f["file"]: f for f in answer["files"]}
    assert list(files) == ["fees.eml", f"fees.eml{SEP}fee-schedule.pdf", f"fees.eml{SEP}branches.csv",
                           f"fees.eml{SEP}setup.exe", f"fees.eml{SEP}opening-hours.eml",
                           f"fees.eml{SEP}opening-hours.eml{SEP}weekend.csv"]
    assert files["fees.eml"]["attachment_of"] is None and files["fees.eml"]["status"] == "unchanged"
    assert files[f"fees.eml{SEP}fee-schedule.pdf"]["attachment_of"] == "fees.eml"
    assert files[f"fees.eml{SEP}fee-schedule.pdf"]["source"].endswith(f"fees.eml{SEP}fee-schedule.pdf")
    assert files[f"fees.eml{SEP}setup.exe"]["outcome"] == "failed"
    assert answer["counts"]["unchanged"] == 5 and answer["counts"]["failed"] == 1
    run = platform.corpus.ingest_run(answer["run_id"])
    assert len(run["files"]) == 6


class _InProcessServer:
    """The remote CLI's client, answered by the upload route's own code in this process (no socket)."""

    def __init__(self, platform):
        self.platform = platform

    def get(self, route: str) -> dict:
        assert route == "/api/v1/collections"
        return {"collections": self.platform.corpus.collections()}

    def upload(self, route: str, paths: list[Path]) -> dict:
        collection = route.split("/")[-2]
        caller = SimpleNamespace(platform=self.platform, ctx=None)
        return DocumentRoutes._ingest(caller, collection, [(p.name, p.read_bytes()) for p in paths])


def test_the_remote_cli_reports_each_attachment_under_its_mail(platform, made, tmp_path):
    folder = tmp_path / "remote"
    folder.mkdir()
    (folder / "a-statement.msg").write_bytes(made.msg.read_bytes())
    (folder / "b-memo.md").write_text("# Memo\n\nThe remote memo mentions a quokka.\n")
    platform.corpus.create_collection("mail-remote")
    lines = []
    report = _upload_all(_InProcessServer(platform), [folder], "mail-remote", 50,
                         lambda done, total, outcome: lines.append((done, outcome["path"])))
    paths = [f["path"] for f in report["files"]]
    msg = str((folder / "a-statement.msg").resolve())
    assert paths == [msg, f"{msg}{SEP}statement.pdf", f"{msg}{SEP}movements.csv", str((folder / "b-memo.md").resolve())]
    assert [f["outcome"] for f in report["files"]] == ["ingested"] * 4
    assert report["counts"]["ingested"] == 4 and len(lines) == 4

