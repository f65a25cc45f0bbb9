"""Tables in PDFs (ruled and unruled) and DOCX kept as tables: one line per row with its column names, once."""
from __future__ import annotations

import zipfile

import pytest

from backend.ingest.loaders import load_file
from backend.ingest.loaders.docx import read_docx
from backend.ingest.loaders.pdf import read_pdf
from backend.models import InputError
from backend.platform import Platform
from tests.ingest.make_pdfs import (
    FEE_TABLE_HEADER,
    FEE_TABLE_ROWS,
    MERGED_ROW,
    TABLE_INTRO,
    TABLE_OUTRO,
    make_long_table_pdf,
    make_table_docx,
    make_table_pdf,
)

LIMIT = 10 * 1024 * 1024


def row_line(row: list[str]) -> str:
    return " | ".join(f"{name}: {value}" for name, value in zip(FEE_TABLE_HEADER, row))


EXPECTED_ROWS = [row_line(row) for row in FEE_TABLE_ROWS]


@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "unruled"])
def test_a_pdf_table_is_its_own_part_one_line_per_row_under_its_heading(tmp_path, ruled):
    path = make_table_pdf(tmp_path / "fees.pdf", ruled=ruled)
    _, parts, metadata = read_pdf(path.read_bytes(), path)
    assert metadata["tables"] == 1
    table = next(p for p in parts if p.text.startswith("Service: "))
    assert table.text.splitlines() == EXPECTED_ROWS
    assert (table.page, table.heading_path) == (1, ("Account fees",))
    texts = [p.text for p in parts]
    assert texts.index(table.text) == 1  # after the heading and its paragraph, before the paragraph after it
    assert texts[0] == f"Account fees\n{TABLE_INTRO}" and texts[2] == TABLE_OUTRO


@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "unruled"])
def test_table_cells_are_indexed_once(tmp_path, ruled):
    doc = load_file(make_table_pdf(tmp_path / "fees.pdf", ruled=ruled), LIMIT)
    for service, fee, _ in FEE_TABLE_ROWS:
        assert doc.text.count(service) == 1 and doc.text.count(fee) == 1, service
    assert "Service Fee When charged" not in doc.text  # the header is on every row, not a jumbled line
    assert "extension 4400" in doc.text  # the text after the table is still there, in its own section
    assert [s.heading_path for s in doc.sections] == [("Account fees",), ("Contact",)]


def test_a_table_going_on_over_a_page_break_keeps_its_header(tmp_path):
    doc = load_file(make_long_table_pdf(tmp_path / "charges.pdf", rows=45), LIMIT)
    assert doc.metadata["pages"] == 2 and doc.metadata["tables"] == 2  # one piece on each page
    lines = doc.text.splitlines()
    assert [line for line in lines if line.startswith("Item: ")] == [
        f"Item: Service number {n} | Charge: {n}.00 GBP" for n in range(1, 46)]
    assert {s.page for s in doc.sections} == {1, 2}
    assert {s.heading_path for s in doc.sections} == {("Service charges",)}


def test_prose_is_not_mistaken_for_an_unruled_table(tmp_path):
    from tests.ingest.make_pdfs import make_layout_pdf, make_two_column_pdf

    for path in (make_layout_pdf(tmp_path / "handbook.pdf"), make_two_column_pdf(tmp_path / "brief.pdf")):
        _, parts, metadata = read_pdf(path.read_bytes(), path)
        assert metadata["tables"] == 0, path.name
        assert not [p for p in parts if ": " in p.text and " | " in p.text]


def test_a_docx_table_keeps_rows_aligned_with_their_columns_under_its_heading(tmp_path):
    path = make_table_docx(tmp_path / "fees.docx")
    _, parts, metadata = read_docx(path.read_bytes(), path)
    assert metadata["tables"] == 1
    table = next(p for p in parts if "Service: " in p.text)
    assert table.heading_path == ("Fee schedule", "Account fees")
    assert table.text.splitlines() == [
        "Personal account fees",  # the merged title row: content, not the header
        *EXPECTED_ROWS,
        # Its first two cells merged: "Never" stays under "When charged", not under "Fee".
        f"Service: {MERGED_ROW} | When charged: Never",
    ]
    doc = load_file(path, LIMIT)
    assert doc.text.count("Monthly account fee") == 1
    assert TABLE_INTRO in doc.text and TABLE_OUTRO in doc.text


@pytest.fixture(scope="module")
def fee_platform(tmp_path_factory):
    from backend.settings import Settings

    root = tmp_path_factory.mktemp("tables")
    files = root / "files"
    files.mkdir()
    make_table_pdf(files / "ruled-fees.pdf", ruled=True)
    make_table_pdf(files / "card-fees.pdf", ruled=False, heading="Card fees",
                   rows=[["Card replacement", "7.00 GBP", "Per card"], ["Contactless limit change", "Free", "Never"],
                         ["Cash advance", "3 percent", "Per advance"]])
    make_table_docx(files / "schedule.docx", rows=[["Overseas cheque", "12.00 GBP", "Per cheque"],
                                                   ["Bankers draft", "20.00 GBP", "Per draft"],
                                                   ["Audit letter", "30.00 GBP", "Per letter"]])
    with Platform(Settings(data_dir=root / "data")) as platform:
        report = platform.corpus.ingest([files], "fees")
        assert {f.outcome for f in report.files} == {"ingested"}, report.files
        yield platform


@pytest.mark.parametrize("question, line, page", [
    ("What is the fee for a SWIFT transfer?", row_line(["SWIFT transfer", "15.00 USD", "Per transfer"]), 1),
    ("How much is a bankers draft?", row_line(["Bankers draft", "20.00 GBP", "Per draft"]), None),
    ("What does a cash advance cost?", row_line(["Cash advance", "3 percent", "Per advance"]), 1),
])
def test_a_fee_question_retrieves_the_row_as_one_chunk_line_with_its_column_names(fee_platform, question, line, page):
    hits = fee_platform.retriever.search(question, "fees", k=5)
    holding = [h for h in hits if line in h.chunk.text.splitlines()]
    assert holding, [h.chunk.text for h in hits]
    assert holding[0].chunk.page == page  # PDF chunks carry their page; DOCX has none
    assert holding[0].chunk.heading_path  # and the heading the table sits under


def test_malformed_table_documents_are_still_clear(tmp_path):
    whole = make_table_pdf(tmp_path / "whole.pdf").read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(whole[: len(whole) // 3])
    broken_docx = tmp_path / "broken.docx"
    with zipfile.ZipFile(broken_docx, "w") as archive:
        archive.writestr("word/document.xml", "<w:document>not closed")
    for path, message in ((truncated, "truncated.pdf: "), (broken_docx, "broken.docx: is not a valid DOCX")):
        with pytest.raises(InputError, match=message):
            load_file(path, LIMIT)
