"""Documents page (AppTest): deleting an e-mail names the attachments that go with it, and says how many went."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from backend.platform import Platform
from tests.ingest.test_attachment_lifecycle import eml_bytes
from tests.pages.conftest import pages_on, run
from tests.pages.signin import signed_in

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "corpus_documents.py")


def test_deleting_a_mail_asks_about_its_attachments_and_reports_them(settings, monkeypatch, tmp_path):
    (tmp_path / "review.eml").write_bytes(eml_bytes())
    with Platform(settings) as platform:
        report = platform.corpus.ingest([tmp_path / "review.eml"], "inbox")
    mail, *attached = [f.document_id for f in report.files]
    assert len(attached) == 2
    with pages_on(monkeypatch, settings.data_dir):
        app = signed_in(AppTest.from_file(PAGE, default_timeout=120))
        app.query_params["doc"] = str(mail)
        run(app)
        app.button(key="doc_delete").click()
        run(app)
        assert any("and the 2 attachments ingested from it" in m.value for m in app.markdown)
        assert any("With it: rates" in c.value and "visit-notes" in c.value for c in app.caption)
        app.button(key="confirm_delete_document").click()
        run(app)
        assert any("Deleted “Branch review” with its 2 attachments" in s.value for s in app.success)
        from components.platform import get_platform

        corpus = get_platform().corpus
        assert {corpus.document(i).status for i in [mail, *attached]} == {"deleted"}
