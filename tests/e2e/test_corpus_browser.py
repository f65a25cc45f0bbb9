"""Browser walk through the corpus browser: upload three files (one corrupt), find one, open it, delete it after confirming."""
from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import assert_no_exception, open_document, settle
from tests.e2e.signin import accounts, open_page  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts

HERON = b"# Heron Migration Notes\n\nHerons migrate along the estuary every autumn. The team counts them at dawn.\n"
KESTREL = b"Kestrel nesting survey.\n\nKestrels nested in seven boxes this spring; four fledged young.\n"
BROKEN = b"%PDF-1.7\n%this is not a PDF at all\n"



def test_upload_find_open_and_delete(page, app_url):
    collection = f"birds-{uuid.uuid4().hex[:6]}"
    open_page(page, app_url, "corpus_upload", "Upload", role="operator")
    settle(page)

    page.get_by_text("A new collection").click()
    settle(page)
    page.get_by_label("New collection name").fill(collection)
    page.get_by_label("New collection name").press("Enter")
    settle(page)
    page.locator("input[type=file]").set_input_files([
        {"name": "heron-notes.md", "mimeType": "text/markdown", "buffer": HERON},
        {"name": "kestrel-survey.txt", "mimeType": "text/plain", "buffer": KESTREL},
        {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": BROKEN},
    ])
    settle(page)
    page.get_by_role("button", name=f"Ingest 3 files into {collection}").click()
    page.get_by_text(f"Upload into {collection} finished in").wait_for(timeout=300_000)
    settle(page)
    page.get_by_text("2 ingested · 1 failed").wait_for()
    page.get_by_text("broken.pdf: is a corrupt or unreadable PDF").wait_for()
    assert_no_exception(page)

    open_page(page, app_url, "corpus_documents", "Documents", role="operator")
    settle(page)
    open_document(page, "heron migration")
    page.get_by_role("heading", name="Heron Migration Notes").wait_for()
    page.get_by_text(f"collection {collection}").wait_for()
    page.get_by_text("Herons migrate along the estuary every autumn.").wait_for()

    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Delete Heron Migration Notes").wait_for()
    dialog.get_by_role("button", name="Delete", exact=True).click()
    settle(page)
    page.get_by_text("Deleted “Heron Migration Notes”: ").wait_for()
    page.get_by_text("No document matches these filters.").wait_for()
    assert_no_exception(page)
