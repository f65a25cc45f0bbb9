"""PDF layout on generated PDFs: heading paths and pages on every chunk, splits at sections, two columns, no page chrome."""
from __future__ import annotations

import pytest

from backend.ingest.chunking import chunk_text
from backend.ingest.loaders import load_file
from backend.ingest.loaders.pdf import read_pdf, read_pdf_plain
from backend.models import InputError
from backend.text.tokens import default_counter
from tests.ingest.make_pdfs import (
    FRAUD_CHECKS,
    HANDBOOK_HEADER,
    HANDBOOK_SECTIONS,
    HANDBOOK_TITLE,
    LEFT_COLUMN,
    RIGHT_COLUMN,
    make_layout_pdf,
    make_two_column_pdf,
)

LIMIT = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def counter():
    return default_counter()


@pytest.fixture(scope="module")
def handbook(tmp_path_factory):
    return load_file(make_layout_pdf(tmp_path_factory.mktemp("layout") / "handbook.pdf"), LIMIT)


def expected_paths() -> dict[str, tuple[str, ...]]:
    """Heading text -> its heading path, from the generator's own outline."""
    paths, chapter = {}, ""
    for level, heading, _ in HANDBOOK_SECTIONS:
        chapter = heading if level == 1 else chapter
        paths[heading] = (HANDBOOK_TITLE, heading) if level == 1 else (HANDBOOK_TITLE, chapter, heading)
    return paths


def test_headings_nest_by_font_size_and_every_section_has_a_page(handbook):
    paths = expected_paths()
    heading_paths = [s.heading_path for s in handbook.sections]
    assert heading_paths[0] == (HANDBOOK_TITLE,)
    assert set(heading_paths) == {(HANDBOOK_TITLE,), *paths.values()}
    for section in handbook.sections:
        assert section.page in (1, 2, 3)
        text = handbook.text[section.start : section.end]
        if section.start == min(s.start for s in handbook.sections if s.heading_path == section.heading_path):
            assert text.splitlines()[0] == section.heading_path[-1]  # a section opens with its heading
    assert handbook.metadata["headings"] == len(HANDBOOK_SECTIONS) + 1
    assert handbook.title == HANDBOOK_TITLE  # no metadata title: the first page's top heading


def test_every_chunk_has_its_page_and_heading_path_and_stays_in_its_section(handbook, counter):
    chunks = chunk_text(handbook.text, handbook.sections, counter, max_tokens=64, overlap=8)
    assert len(chunks) > len(HANDBOOK_SECTIONS)
    paths = expected_paths()
    for chunk in chunks:
        assert chunk.page is not None, chunk
        assert chunk.heading_path and chunk.heading_path[0] == HANDBOOK_TITLE
        for _, heading, paragraphs in HANDBOOK_SECTIONS:
            if any(p[:60] in chunk.text for p in paragraphs):
                assert chunk.heading_path == paths[heading], (chunk.text, chunk.heading_path)
    # Split at sections: no chunk holds text of two sections.
    for a, b in zip(HANDBOOK_SECTIONS, HANDBOOK_SECTIONS[1:]):
        assert not any(a[2][0][:50] in c.text and b[2][0][:50] in c.text for c in chunks)
    # The lost-cards section runs over a page break: its chunks carry both pages, each its own.
    lost = [c for c in chunks if c.heading_path[-1] == "2.1 Lost or stolen cards"]
    assert {c.page for c in lost} == {2, 3}
    assert next(c for c in lost if f"Fraud check {FRAUD_CHECKS}:" in c.text).page == 3


def test_running_header_footer_and_page_numbers_are_gone(handbook):
    assert HANDBOOK_HEADER not in handbook.text
    assert "Page 1 of" not in handbook.text and "Page 2 of" not in handbook.text
    assert not [line for line in handbook.text.splitlines() if line.strip().isdigit()]
    assert handbook.metadata["pages"] == 3


def test_wrapped_body_lines_are_joined(handbook):
    lost_card = HANDBOOK_SECTIONS[4][2][1]
    assert lost_card in handbook.text.splitlines()  # the generator wrapped it over two lines


def test_two_columns_are_read_column_by_column(tmp_path):
    doc = load_file(make_two_column_pdf(tmp_path / "brief.pdf"), LIMIT)
    lines = doc.text.splitlines()
    assert lines[:2] == ["Savings and Mortgages Brief", "This brief covers two products, one per column."]
    assert lines[2:] == LEFT_COLUMN + RIGHT_COLUMN  # whole sentences, the left column first


def test_the_plain_reader_reads_across_columns(tmp_path):
    """The pypdf path (the fallback and the bench's baseline) interleaves the columns: what layout fixes."""
    path = make_two_column_pdf(tmp_path / "brief.pdf")
    _, parts, _ = read_pdf_plain(path.read_bytes(), path)
    assert LEFT_COLUMN[0] not in parts[0].text.splitlines()


def test_pages_without_text_stay_one_empty_part_with_their_page(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.cell(0, 10, "A page with text on it.")
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a page a scanner would make: no text layer
    path = tmp_path / "mixed.pdf"
    pdf.output(str(path))
    _, parts, metadata = read_pdf(path.read_bytes(), path)
    assert [(p.page, p.text) for p in parts] == [(1, "A page with text on it."), (2, "")]
    assert metadata["pages_without_text"] == 1


@pytest.mark.parametrize("content, message", [
    (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(256)) * 8 + b"\n%%EOF", "pdf"),
    (b"GIF89a not a pdf at all", "not a pdf"),
])
def test_malformed_pdfs_are_still_clear(tmp_path, content, message):
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    with pytest.raises(InputError, match="(?i)bad.pdf: .*" + message):
        load_file(path, LIMIT)
