"""OCR with a real Tesseract: scanned and mixed PDFs, images as documents, the per-file mode, Tesseract missing."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from backend.ingest.loaders import load_file
from backend.ingest.progress import reporting
from backend.models import InputError
from tests.ingest.make_scans import (
    SCAN_PAGES,
    character_error_rate,
    make_mixed_pdf,
    make_scan_image,
    make_scanned_pdf,
    make_stamped_scan,
    page_text,
)

# Skipped only off CI: `make test` installs Tesseract (scripts/install-tesseract.sh), so there a missing one fails.
pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None and not os.environ.get("CI"),
                                reason="Tesseract is not installed: run bash scripts/install-tesseract.sh")
MAX_BYTES = 50 * 1024 * 1024
TEXT_PAGE = ["Interest on savings accounts is paid monthly.", "Rates are reviewed every quarter by the board."]
VAULT = "The vault inspection is scheduled for the third Tuesday of March."


@pytest.fixture
def no_tesseract(monkeypatch):
    """Tesseract as it is on a machine without it: pytesseract finds no binary."""
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/bin/tesseract")


def text_of_page(doc, page: int) -> str:
    return "\n".join(doc.text[s.start:s.end] for s in doc.sections if s.page == page)


def test_scanned_pdf_is_read_page_by_page_with_confidence_and_progress(tmp_path):
    path = make_scanned_pdf(tmp_path / "scan.pdf", SCAN_PAGES[:2])
    steps: list[tuple] = []
    with reporting(lambda step, done, total: steps.append((step, done, total))):
        doc = load_file(path, MAX_BYTES)
    assert [s.page for s in doc.sections] == [1, 2]
    for page, lines in enumerate(SCAN_PAGES[:2], start=1):
        assert character_error_rate(page_text(lines), text_of_page(doc, page)) < 0.03
    assert all(0.5 < s.ocr_confidence <= 1.0 for s in doc.sections)  # type: ignore[operator]
    assert VAULT in doc.text and "\n" in text_of_page(doc, 1)  # lines kept
    assert doc.metadata["ocr_pages"] == [1, 2] and 0.5 < doc.metadata["ocr_confidence"] <= 1.0
    assert doc.metadata["pages_without_text"] == 0
    assert steps == [("ocr", 0, 2), ("ocr", 1, 2), ("ocr", 2, 2)]


def test_mixed_pdf_keeps_its_text_page_and_reads_the_scanned_one(tmp_path):
    path = make_mixed_pdf(tmp_path / "report.pdf", TEXT_PAGE, SCAN_PAGES[1])
    doc = load_file(path, MAX_BYTES)
    text_sections = [s for s in doc.sections if s.page == 1]
    scan_sections = [s for s in doc.sections if s.page == 2]
    # Page 1 is short (under the sparse threshold) so it is OCRed too, but OCR reads no more than its text layer
    # holds: the exact born-digital text stays, unmarked.
    assert text_sections and all(s.ocr_confidence is None for s in text_sections)
    assert "Interest on savings accounts is paid monthly." in text_of_page(doc, 1)
    assert scan_sections and all(s.ocr_confidence is not None for s in scan_sections)
    assert "opens at nine and closes at half past four" in text_of_page(doc, 2)
    assert doc.metadata["ocr_pages"] == [2]


def test_always_reads_every_page_by_ocr(tmp_path):
    path = make_mixed_pdf(tmp_path / "report.pdf", TEXT_PAGE, SCAN_PAGES[1])
    doc = load_file(path, MAX_BYTES, ocr="always")
    assert doc.metadata["ocr_pages"] == [1, 2]
    assert all(s.ocr_confidence is not None for s in doc.sections)
    assert "savings accounts" in text_of_page(doc, 1)


def test_a_thin_text_layer_over_a_scan_is_replaced_by_ocr(tmp_path):
    path = make_stamped_scan(tmp_path / "stamped.pdf", SCAN_PAGES[2], "ACME-000123")
    doc = load_file(path, MAX_BYTES)
    assert "late fee of 35 EUR" in doc.text
    assert doc.metadata["ocr_pages"] == [1] and doc.sections[0].ocr_confidence is not None


@pytest.mark.parametrize("name", ["scan.png", "scan.jpg", "scan.tiff"])
def test_images_are_documents_read_by_ocr(tmp_path, name):
    pages = SCAN_PAGES[:2] if name.endswith(".tiff") else SCAN_PAGES[:1]
    doc = load_file(make_scan_image(tmp_path / name, pages), MAX_BYTES)
    assert doc.mime_type == {"png": "image/png", "jpg": "image/jpeg", "tiff": "image/tiff"}[name.rsplit(".", 1)[1]]
    assert doc.title == "scan"
    assert [s.page for s in doc.sections] == list(range(1, len(pages) + 1))  # a TIFF's frames are its pages
    for page, lines in enumerate(pages, start=1):
        assert character_error_rate(page_text(lines), text_of_page(doc, page)) < 0.03
    assert all(s.ocr_confidence is not None and s.ocr_confidence > 0.5 for s in doc.sections)


def test_ocr_off_leaves_a_scan_failing_with_a_clear_message(tmp_path):
    with pytest.raises(InputError) as error:
        load_file(make_scanned_pdf(tmp_path / "scan.pdf"), MAX_BYTES, ocr="off")
    assert str(error.value).startswith("scan.pdf: has no extractable text in 1 page(s): it looks scanned")
    assert "OCR is off" in str(error.value)
    with pytest.raises(InputError, match=r"^scan\.png: is an image and OCR is off"):
        load_file(make_scan_image(tmp_path / "scan.png"), MAX_BYTES, ocr="off")


def test_an_unknown_ocr_mode_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="ocr must be one of auto, always, off, got 'sometimes'") as error:
        load_file(make_scan_image(tmp_path / "scan.png"), MAX_BYTES, ocr="sometimes")
    assert error.value.field == "ocr"


def test_ocr_off_keeps_the_text_pages_of_a_mixed_pdf_and_says_what_was_not_read(tmp_path):
    doc = load_file(make_mixed_pdf(tmp_path / "report.pdf", TEXT_PAGE, SCAN_PAGES[1]), MAX_BYTES, ocr="off")
    assert "savings accounts" in doc.text and "Harbour Street" not in doc.text
    assert doc.metadata["ocr_notice"] == "OCR is off: page 2 has no text layer and was not read"


def test_tesseract_missing_fails_a_scan_with_the_install_hint(tmp_path, no_tesseract):
    with pytest.raises(InputError) as error:
        load_file(make_scanned_pdf(tmp_path / "scan.pdf", SCAN_PAGES[:2]), MAX_BYTES)
    assert str(error.value) == ("scan.pdf: pages 1-2 have no text layer and Tesseract is not installed: "
                                "run bash scripts/install-tesseract.sh")
    with pytest.raises(InputError) as error:
        load_file(make_scan_image(tmp_path / "scan.png"), MAX_BYTES)
    assert str(error.value) == ("scan.png: is an image and Tesseract is not installed: "
                                "run bash scripts/install-tesseract.sh")


def test_tesseract_missing_keeps_the_text_pages_with_a_notice(tmp_path, no_tesseract):
    doc = load_file(make_mixed_pdf(tmp_path / "report.pdf", TEXT_PAGE, SCAN_PAGES[1]), MAX_BYTES)
    assert "savings accounts" in doc.text and all(s.page == 1 for s in doc.sections)
    assert doc.metadata["ocr_notice"] == ("page 2 has no text layer and Tesseract is not installed: "
                                          "run bash scripts/install-tesseract.sh")


def test_a_drawing_without_text_still_says_it_found_none(tmp_path):
    from tests.ingest.fixtures import make_scanned_pdf as make_drawing_pdf

    with pytest.raises(InputError, match="no extractable text in 2 page.*scanned, and OCR found no text"):
        load_file(make_drawing_pdf(tmp_path / "drawing.pdf"), MAX_BYTES)


def broken_images(folder: Path) -> dict[str, str]:
    """File name -> what its error must say."""
    from PIL import Image

    good = make_scan_image(folder / "good.png").read_bytes()
    (folder / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not an image at all" * 20)
    (folder / "truncated.png").write_bytes(good[: len(good) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    Image.new("L", (40, 20), 255).save(folder / "animation.tiff", "GIF")
    return {"garbage.png": "is not a readable PNG image", "truncated.png": "is a damaged PNG image: page 1 cannot be decoded",
            "empty.jpg": "file is empty", "animation.tiff": "is a GIF image, not TIFF"}


def test_broken_images_get_a_clear_reason(tmp_path):
    for name, reason in broken_images(tmp_path).items():
        with pytest.raises(InputError) as error:
            load_file(tmp_path / name, MAX_BYTES)
        assert str(error.value).startswith(f"{name}: {reason}"), str(error.value)


def test_scans_ingest_into_a_real_store_and_are_searchable(settings, tmp_path):
    from backend.corpus.document_detail import chunk_rows
    from backend.platform import Platform

    folder = tmp_path / "inbox"
    folder.mkdir()
    make_scanned_pdf(folder / "vault.pdf")
    make_mixed_pdf(folder / "report.pdf", TEXT_PAGE * 8, SCAN_PAGES[1])  # a full text page: only page 2 is OCRed
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with Platform(settings) as platform:
        report = platform.corpus.ingest([folder], "scans")
        outcomes = {Path(f.path).name: f for f in report.files}
        assert {name: f.outcome for name, f in outcomes.items()} == {
            "vault.pdf": "ingested", "report.pdf": "ingested", "broken.png": "failed"}
        assert outcomes["broken.png"].message.startswith("broken.png: is not a readable PNG image")

        hits = platform.retriever.search("when is the vault inspection scheduled", "scans", mode="hybrid", k=3)
        top = hits[0].chunk
        assert top is not None and top.title == "vault" and VAULT in top.text
        assert top.page == 1 and top.ocr_confidence is not None and 0.5 < top.ocr_confidence <= 1.0
        rows = chunk_rows(platform, top.document_id, masked=False)  # the corpus document view's chunk table
        assert rows and all(r["page"] == 1 and r["OCR"] == round(top.ocr_confidence * 100) for r in rows)

        report_chunks = platform.corpus.chunks(outcomes["report.pdf"].document_id)
        assert {(c.page, c.ocr_confidence is None) for c in report_chunks} == {(1, True), (2, False)}
        hits = platform.retriever.search("Harbour Street branch opening hours", "scans", mode="bm25", k=1)
        assert hits[0].chunk is not None and hits[0].chunk.page == 2 and hits[0].chunk.ocr_confidence is not None


def test_cli_ingest_passes_the_ocr_mode(data_dir, tmp_path, capsys):
    from backend.cli import main

    path = make_scanned_pdf(tmp_path / "scan.pdf")
    assert main(["ingest", str(path), "--collection", "scans", "--ocr", "off"]) == 1
    out = capsys.readouterr().out
    assert "failed" in out and "OCR is off" in out


def test_a_partly_read_pdf_says_so_in_its_outcome(data_dir, tmp_path, capsys):
    from backend.cli import main

    path = make_mixed_pdf(tmp_path / "report.pdf", TEXT_PAGE * 8, SCAN_PAGES[1])
    assert main(["ingest", str(path), "--collection", "scans", "--ocr", "off", "--json"]) == 0
    (outcome,) = json.loads(capsys.readouterr().out)["files"]
    assert outcome["outcome"] == "ingested"
    assert outcome["message"] == "OCR is off: page 2 has no text layer and was not read"
