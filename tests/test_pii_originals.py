"""A collection that redacts at ingest keeps no uploaded original with personal data in it, and says so; one that
only flags keeps its uploads as before."""
from __future__ import annotations

import pytest

from backend.corpus.page_images import PageImageUnavailable, render_page_image
from backend.corpus.privacy import original_notice, withhold_originals
from backend.corpus.upload import start_upload, uploads_dir
from backend.platform import Platform
from backend.settings import Settings
from tests.ingest.fixtures import make_pdf

EMAIL = "upload.person@example.com"
NOTE = f"# Desk\n\nMail {EMAIL} about the vendor contract.\n".encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pii-originals")
    pdf = make_pdf(root / "notice.pdf", [["Notice", f"Questions go to {EMAIL} this week."]])
    with Platform(Settings(data_dir=root / "data")) as platform:
        platform.corpus.create_collection("flagged")
        platform.corpus.create_collection("redacted")
        platform.corpus.set_pii_at_ingest("redacted", "redact")
        platform.pdf = pdf.read_bytes()  # type: ignore[attr-defined]
        platform.root = root  # type: ignore[attr-defined]
        yield platform


def _upload(platform, collection: str, files) -> dict[str, str]:
    job = start_upload(platform, collection, files)
    assert job.wait(120) and not job.error, job.error
    return {f.name: f.state for f in job.snapshot()}


def _document(platform, collection: str, name: str) -> dict:
    return next(d for d in platform.corpus.documents(collection) if d["source"].endswith(name))


def test_a_collection_that_redacts_keeps_no_uploaded_original(world):
    states = _upload(world, "redacted", [("desk.md", NOTE), ("notice.pdf", world.pdf)])
    assert states == {"desk.md": "ingested", "notice.pdf": "ingested"}
    folder = uploads_dir(world, "redacted")
    assert not [p for p in folder.iterdir() if not p.name.startswith(".")]  # the files held the e-mail address
    assert not any(EMAIL.encode() in p.read_bytes() for p in folder.iterdir())
    desk = _document(world, "redacted", "desk.md")
    text = world.corpus.document(desk["id"]).text  # the document view still has its text and chunks
    assert EMAIL not in text and "<EMAIL_ADDRESS>" in text and world.corpus.chunks(desk["id"])
    notice = _document(world, "redacted", "notice.pdf")
    assert "original PDF is not kept" in original_notice(world, notice["id"], "application/pdf")
    assert "redacts personal data at ingest" in original_notice(world, desk["id"], "text/markdown")
    with pytest.raises(PageImageUnavailable, match="the original PDF was not kept"):
        render_page_image(world, notice["id"], 1)


def test_uploading_the_file_again_makes_a_version_and_keeps_no_original_either(world):
    changed = NOTE + f"Or ring the desk, {EMAIL} is away.\n".encode()
    assert _upload(world, "redacted", [("desk.md", changed)]) == {"desk.md": "updated"}
    assert not (uploads_dir(world, "redacted") / "desk.md").exists()
    assert _document(world, "redacted", "desk.md")["version"] == 2


def test_a_collection_that_only_flags_keeps_its_uploads(world):
    assert _upload(world, "flagged", [("desk.md", NOTE)]) == {"desk.md": "ingested"}
    assert (uploads_dir(world, "flagged") / "desk.md").read_bytes() == NOTE
    desk = _document(world, "flagged", "desk.md")
    assert original_notice(world, desk["id"], "text/markdown") == ""


def test_an_original_an_earlier_upload_left_is_removed_and_other_files_stay(world):
    folder = uploads_dir(world, "redacted")
    left = folder / "left.md"  # kept by an upload made before originals were withheld
    left.write_bytes(NOTE)
    report = world.corpus.ingest([left], "redacted")
    assert [f.outcome for f in report.files] == ["ingested"]
    unrelated = folder / "not-a-document.txt"
    unrelated.write_text("no document has this file as its source")
    assert withhold_originals(world, "redacted", folder) == [left]
    assert not left.exists() and unrelated.exists()
    assert withhold_originals(world, "flagged", uploads_dir(world, "flagged")) == []
