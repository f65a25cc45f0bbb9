"""Every loader on a small generated document: text, tables row by row, headings, pages, titles."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.ingest.clean import clean_text
from backend.ingest.loaders import SUPPORTED_EXTENSIONS, load_file
from backend.models import LoadedDocument
from tests.ingest.fixtures import HTML_PAGE, MARKDOWN_DOC, make_docx, make_pdf, make_xlsx

LIMIT = 10 * 1024 * 1024


def assert_well_formed(doc: LoadedDocument) -> None:
    """Sections are ordered, disjoint, inside the text, and the text is already clean."""
    assert doc.text == clean_text(doc.text)
    assert doc.sections, "a loaded document has at least one section"
    previous_end = 0
    for section in doc.sections:
        assert previous_end <= section.start < section.end <= len(doc.text)
        assert doc.text[section.start : section.end].strip() == doc.text[section.start : section.end]
        previous_end = section.end
    covered = sum(s.end - s.start for s in doc.sections)
    assert covered + 2 * (len(doc.sections) - 1) == len(doc.text)  # only the "\n\n" joins are outside


def section_text(doc: LoadedDocument, **where) -> str:
    matches = [s for s in doc.sections if all(getattr(s, k) == v for k, v in where.items())]
    assert len(matches) == 1, (where, doc.sections)
    return doc.text[matches[0].start : matches[0].end]


def test_pdf_pages_become_sections_without_running_headers_and_page_numbers(tmp_path):
    doc = load_file(make_pdf(tmp_path / "handbook.pdf", title="Staff handbook 2026"), LIMIT)
    assert_well_formed(doc)
    assert doc.title == "Staff handbook 2026"
    assert doc.mime_type == "application/pdf"
    assert doc.metadata["pages"] == 3
    assert [s.page for s in doc.sections] == [1, 2, 3]
    assert "SWIFT transfer costs 15 USD" in section_text(doc, page=2)
    assert "seven years" in section_text(doc, page=3)
    assert "ACME Bank" not in doc.text
    assert "Page" not in doc.text and "of 3" not in doc.text
    assert doc.source == str(tmp_path / "handbook.pdf")


def test_pdf_without_metadata_title_uses_file_name(tmp_path):
    doc = load_file(make_pdf(tmp_path / "fees-2026.pdf", header="", page_footer=False), LIMIT)
    assert doc.title == "fees-2026"
    assert doc.text.startswith("Refund policy")


def test_pdf_wrapped_lines_are_joined_but_lines_that_end_stay(tmp_path):
    sentence = ("Card payments abroad carry a foreign exchange fee of 2.75 percent of the amount, which is shown "
                "on the statement next to each payment and refunded when the payment is reversed by the merchant.")
    pages = [["Card fees", sentence, "Cash withdrawals: free", "ATM limits apply."]]
    doc = load_file(make_pdf(tmp_path / "cards.pdf", pages, header="", page_footer=False), LIMIT)
    assert doc.text.splitlines() == ["Card fees", sentence, "Cash withdrawals: free", "ATM limits apply."]


def test_docx_headings_paragraphs_and_table_rows(tmp_path):
    doc = load_file(make_docx(tmp_path / "fees.docx"), LIMIT)
    assert_well_formed(doc)
    assert doc.title == "Fees handbook"  # no core title: the first Heading 1
    assert doc.mime_type == SUPPORTED_EXTENSIONS[".docx"]
    transfers = section_text(doc, heading_path=("Fees handbook", "International transfers"))
    assert transfers.splitlines()[0] == "International transfers"
    assert "Network: SEPA | Fee: 0.50 EUR | Days: 1\nNetwork: SWIFT | Fee: 15 USD | Days: 2" in transfers
    cards = section_text(doc, heading_path=("Fees handbook", "Card payments"))
    assert cards.endswith("Card payments in euro are free.\n\n- Apple Pay\n- Google Pay")
    assert "fees desk" in section_text(doc, heading_path=("Appendix",))
    assert doc.metadata["tables"] == 1


def test_docx_core_title_wins(tmp_path):
    assert load_file(make_docx(tmp_path / "f.docx", title="Fee schedule v2"), LIMIT).title == "Fee schedule v2"


def test_html_main_text_only_with_headings_lists_and_tables(tmp_path):
    path = tmp_path / "security.html"
    path.write_text(HTML_PAGE, encoding="utf-8")
    doc = load_file(path, LIMIT)
    assert_well_formed(doc)
    assert doc.title == "Security policy"  # first h1 before <title>
    for chrome in ("do-not-index", "color: red", "Site banner", "Products", "careers", "Copyright", "JavaScript", "Search"):
        assert chrome not in doc.text
    assert "All laptops use full-disk encryption and a company VPN." in doc.text
    rules = section_text(doc, heading_path=("Security policy", "Password rules"))
    assert "- At least 14 characters\n- Rotated on compromise only" in rules
    contacts = section_text(doc, heading_path=("Security policy", "Incident contacts"))
    assert "Role: CISO | Name: Dana Reyes | Phone: 555-0101\nRole: On-call | Name: Lee Park | Phone: 555-0199" in contacts


def test_html_without_main_drops_page_chrome_and_uses_title_tag(tmp_path):
    path = tmp_path / "plain.htm"
    path.write_text(
        "<html><head><title>Retention</title></head><body><header>Menu</header>"
        "<p>Logs are kept 90 days.</p><footer>Imprint</footer></body></html>",
        encoding="utf-8",
    )
    doc = load_file(path, LIMIT)
    assert doc.text == "Logs are kept 90 days."
    assert doc.title == "Retention"


def test_markdown_heading_paths_readable_text_and_tables(tmp_path):
    path = tmp_path / "payments.md"
    path.write_text(MARKDOWN_DOC, encoding="utf-8")
    doc = load_file(path, LIMIT)
    assert_well_formed(doc)
    assert doc.title == "Payments handbook"  # front matter
    assert doc.mime_type == "text/markdown"
    refund = section_text(doc, heading_path=("Refund policy",))
    assert "Refunds are free within 30 days. Use the refund form to ask." in refund
    assert "**" not in doc.text and "](" not in doc.text and "---" not in doc.text
    transfers = section_text(doc, heading_path=("Refund policy", "International transfers"))
    assert "Network: SEPA | Fee: 0.50 EUR | Days: 1\nNetwork: SWIFT | Fee: 15 USD | Days: 2" in transfers
    exceptions = section_text(doc, heading_path=("Refund policy", "International transfers", "Exceptions"))
    assert "- Charities pay no fee\n- Staff accounts pay half" in exceptions
    assert "Records are kept for 7 years." in section_text(doc, heading_path=("Data retention",))


def test_markdown_title_from_first_h1(tmp_path):
    path = tmp_path / "notes.markdown"
    path.write_text("Intro line.\n\n# Leave policy\n\nTwenty days.\n", encoding="utf-8")
    doc = load_file(path, LIMIT)
    assert doc.title == "Leave policy"
    assert section_text(doc, heading_path=()) == "Intro line."


def test_plain_text_is_cleaned_and_keeps_paragraphs(tmp_path):
    path = tmp_path / "memo.txt"
    path.write_bytes("Line one   with  spaces \r\n\r\n\r\n\r\nco\u00adoperate\u200b now\t\n".encode("utf-8"))
    doc = load_file(path, LIMIT)
    assert doc.text == "Line one with spaces\n\ncooperate now"
    assert doc.title == "memo"
    assert doc.mime_type == "text/plain"
    assert len(doc.sections) == 1 and (doc.sections[0].start, doc.sections[0].end) == (0, len(doc.text))


@pytest.mark.parametrize(
    "encoded",
    [
        "Café déjà vu – 5 €".encode("utf-8-sig"),
        "Café déjà vu – 5 €".encode("utf-16"),  # with BOM
        "Café déjà vu – 5 €".encode("cp1252"),  # invalid UTF-8: decoded as Windows-1252
    ],
    ids=["utf-8-sig", "utf-16-bom", "cp1252"],
)
def test_text_encodings_are_decoded(tmp_path, encoded):
    path = tmp_path / "legacy.text"
    path.write_bytes(encoded)
    assert load_file(path, LIMIT).text == "Café déjà vu – 5 €"


def test_csv_rows_stay_rows(tmp_path):
    path = tmp_path / "fees.csv"
    path.write_text("Product;Fee;Currency\nCurrent account;4.50;EUR\n;;\nSavings;0;EUR\nBroker;;USD\n", encoding="utf-8")
    doc = load_file(path, LIMIT)
    assert_well_formed(doc)
    assert doc.text.splitlines() == [
        "Product: Current account | Fee: 4.50 | Currency: EUR",
        "Product: Savings | Fee: 0 | Currency: EUR",
        "Product: Broker | Currency: USD",
    ]
    assert doc.metadata == {"rows": 3, "columns": ["Product", "Fee", "Currency"]}


def test_xlsx_one_section_per_sheet_rows_as_lines(tmp_path):
    doc = load_file(make_xlsx(tmp_path / "fees.xlsx"), LIMIT)
    assert_well_formed(doc)
    assert doc.title == "Fee schedule"
    assert section_text(doc, heading_path=("Fees",)).splitlines() == [
        "Product: Current account | Fee: 4.5 | Since: 2025-01-01",
        "Product: Savings account | Fee: 0 | Since: 2024-06-30",
    ]
    assert section_text(doc, heading_path=("Staff",)) == "Name: Dana Reyes | Team: Security"
    assert [s.heading_path for s in doc.sections] == [("Fees",), ("Staff",)]  # the empty sheet adds nothing
    assert doc.metadata["sheets"] == ["Fees", "Staff", "Empty"]


def test_html_declared_charset_and_hidden_elements(tmp_path):
    path = tmp_path / "tokyo.html"
    html = (
        '<html><head><meta charset="shift_jis"></head><body><div hidden>template</div>'
        '<span aria-hidden="true">icon</span><p>東京の手数料は五百円です。<br>Second line</p></body></html>'
    )
    path.write_bytes(html.encode("shift_jis"))
    assert load_file(path, LIMIT).text == "東京の手数料は五百円です。\nSecond line"


def test_pdf_ligatures_become_letters(tmp_path):
    from fpdf import FPDF

    fonts = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")]
    try:
        import matplotlib

        fonts.append(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:
        pass
    font = next((f for f in fonts if f.is_file()), None)
    if font is None:
        message = "no TrueType font with ligature glyphs on this machine (matplotlib's DejaVu Sans is one)"
        if os.environ.get("CI"):
            pytest.fail(message)  # ranx brings matplotlib (through seaborn): missing on CI is a real failure
        pytest.skip(message)
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("dejavu", fname=str(font))
    pdf.set_font("dejavu", size=12)
    pdf.cell(0, 10, "The \ufb01nal o\ufb03ce \ufb02ow.")
    path = tmp_path / "lig.pdf"
    pdf.output(str(path))
    assert load_file(path, LIMIT).text == "The final office flow."
