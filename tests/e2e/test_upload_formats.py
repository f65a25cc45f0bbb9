"""Browser: a scanned PDF, a slide deck and an e-mail with attachments uploaded together, each with its own outcome."""
from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import ARTIFACTS, assert_no_exception, open_document, settle
from tests.e2e.signin import accounts, open_page  # noqa: F401 - accounts: the fixture seeding the users
from tests.ingest.make_office import attached_pdf_bytes, make_eml, make_pptx
from tests.ingest.make_scans import make_scanned_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts



def test_scans_slides_and_mail_upload_with_an_outcome_each(page, app_url, tmp_path):
    collection = f"formats-{uuid.uuid4().hex[:6]}"
    files = [make_scanned_pdf(tmp_path / "vault-scan.pdf"), make_pptx(tmp_path / "briefing.pptx"),
             make_eml(tmp_path / "fees.eml", pdf=attached_pdf_bytes(tmp_path))]
    open_page(page, app_url, "corpus_upload", "Upload", role="operator")
    settle(page)
    page.get_by_text("A new collection").click()
    settle(page)
    page.get_by_label("New collection name").fill(collection)
    page.get_by_label("New collection name").press("Enter")
    settle(page)
    page.locator("input[type=file]").set_input_files([str(f) for f in files])
    settle(page)
    page.get_by_role("button", name=f"Ingest 3 files into {collection}").click()
    page.get_by_text(f"Upload into {collection} finished in").wait_for(timeout=300_000)
    settle(page)
    body = page.locator("body").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "upload-formats.png"), full_page=True)
    assert_no_exception(page)
    # The scan, the deck, the mail and its PDF and CSV are five documents; the .exe the mail carried fails on its own
    # line (the per-file table is a canvas grid, so its rows are read from the summary and the failure box).
    assert "finished in" in body and "5 ingested · 1 failed" in body, body[-1500:]
    assert "fees.eml › setup.exe: unsupported file type '.exe'" in body

    # The scanned page's chunk says it was read by OCR, with its page and confidence.
    open_page(page, app_url, "corpus_documents", "Documents", role="operator")
    settle(page)
    open_document(page, "vault-scan")
    page.get_by_text("The vault inspection is scheduled", exact=False).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "upload-formats-scan.png"), full_page=True)
    assert_no_exception(page)
