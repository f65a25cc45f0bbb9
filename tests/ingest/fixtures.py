"""Tiny documents of every supported format, written into a test's tmp_path (no binary fixtures in git)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

HANDBOOK_PAGES = [
    ["Refund policy", "Customers may request a refund within 30 days of purchase.", "Refunds go back to the original card."],
    ["Transfer fees", "A SEPA transfer costs 0.50 EUR.", "A SWIFT transfer costs 15 USD and takes two days."],
    ["Data retention", "Account records are kept for seven years.", "Chat logs are deleted after 90 days."],
]


def make_pdf(path: Path, pages: list[list[str]] = HANDBOOK_PAGES, *, title: str = "", header: str = "ACME Bank - Internal",
             page_footer: bool = True) -> Path:
    """A text PDF with a running header and a "Page N of M" footer on every page."""
    from fpdf import FPDF

    class HandbookPDF(FPDF):
        def header(self):
            if header:
                self.set_font("helvetica", size=9)
                self.cell(0, 10, header, new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            if page_footer:
                self.set_y(-15)
                self.set_font("helvetica", size=9)
                self.cell(0, 10, f"Page {self.page_no()} of {len(pages)}")

    pdf = HandbookPDF()
    if title:
        pdf.set_title(title)
    for lines in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        for line in lines:
            pdf.multi_cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF whose pages carry only drawings: what a scan without OCR looks like to a text extractor."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))
    return path


def make_encrypted_pdf(path: Path, source: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(source).pages:
        writer.add_page(page)
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="AES-256")
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_docx(path: Path, *, title: str = "") -> Path:
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Fees handbook", level=1)
    document.add_paragraph("This handbook lists every fee we charge.")
    document.add_heading("International transfers", level=2)
    document.add_paragraph("Transfers abroad are priced per network.")
    table = document.add_table(rows=3, cols=3)
    for row, values in zip(table.rows, [["Network", "Fee", "Days"], ["SEPA", "0.50 EUR", "1"], ["SWIFT", "15 USD", "2"]]):
        for cell, value in zip(row.cells, values):
            cell.text = value
    document.add_heading("Card payments", level=2)
    document.add_paragraph("Card payments in euro are free.")
    document.add_paragraph("Apple Pay", style="List Bullet")
    document.add_paragraph("Google Pay", style="List Bullet")
    document.add_heading("Appendix", level=1)
    document.add_paragraph("Contact the fees desk for exceptions.")
    document.save(str(path))
    return path


HTML_PAGE = """<!doctype html>
<html><head><title>Security page</title><script>var tracking = "do-not-index";</script>
<style>body { color: red }</style></head>
<body>
<header><a href="/">Home</a> Site banner</header>
<nav><ul><li>Products</li><li>About us</li></ul></nav>
<main>
  <h1>Security policy</h1>
  <p>All laptops use <b>full-disk</b> encryption and a <a href="/vpn">company VPN</a>.</p>
  <h2>Password rules</h2>
  <ul><li>At least 14 characters</li><li>Rotated on compromise only</li></ul>
  <h2>Incident contacts</h2>
  <table>
    <tr><th>Role</th><th>Name</th><th>Phone</th></tr>
    <tr><td>CISO</td><td>Dana Reyes</td><td>555-0101</td></tr>
    <tr><td>On-call</td><td>Lee Park</td><td>555-0199</td></tr>
  </table>
  <form><input name="q"><button>Search</button></form>
</main>
<aside>Related: careers</aside>
<footer>Copyright 2026 ACME</footer>
<noscript>Enable JavaScript</noscript>
</body></html>
"""

MARKDOWN_DOC = """---
title: Payments handbook
owner: finance
---
# Refund policy

Refunds are **free** within _30 days_. Use the [refund form](https://example.com/form) to ask.

## International transfers

International transfers follow the table below.

| Network | Fee | Days |
|---------|-----|------|
| SEPA | 0.50 EUR | 1 |
| SWIFT | 15 USD | 2 |

### Exceptions

- Charities pay *no* fee
- Staff accounts pay half

# Data retention

Records are kept for `7` years.
"""


def make_xlsx(path: Path) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    fees = workbook.active
    fees.title = "Fees"
    fees.append(["Product", "Fee", "Since"])
    fees.append(["Current account", 4.5, datetime(2025, 1, 1)])
    fees.append([None, None, None])
    fees.append(["Savings account", 0, datetime(2024, 6, 30)])
    staff = workbook.create_sheet("Staff")
    staff.append(["Name", "Team"])
    staff.append(["Dana Reyes", "Security"])
    workbook.create_sheet("Empty")
    workbook.properties.title = "Fee schedule"
    workbook.save(str(path))
    return path
