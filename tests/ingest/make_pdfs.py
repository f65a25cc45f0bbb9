"""Layout test documents made by code: a headed multi-page PDF, ruled and unruled table PDFs, two columns, a DOCX table."""
from __future__ import annotations

from pathlib import Path

# (level, heading, paragraphs): level 1 sections hold level 2 ones; the title is above them all.
HANDBOOK_TITLE = "Northwind Bank Customer Handbook"
HANDBOOK_HEADER = "Northwind Bank - Customer Handbook - Internal"
FRAUD_CHECKS = 20  # paragraphs in "2.1 Lost or stolen cards": enough to run from page 2 onto page 3
HANDBOOK_SECTIONS: list[tuple[int, str, list[str]]] = [
    (1, "1. Accounts", ["This chapter explains how accounts are opened and closed at Northwind Bank."]),
    (2, "1.1 Opening an account", [
        "A current account can be opened online in about ten minutes with a passport or a driving licence.",
        "Applicants under eighteen need a parent or guardian to sign the application with them.",
    ]),
    (2, "1.2 Closing an account", [
        "An account is closed within five working days of the request, once every card has been cancelled.",
        "Any remaining balance is paid to an account in the customer's name chosen at closure.",
    ]),
    (1, "2. Cards", ["Every current account comes with one contactless debit card."]),
    (2, "2.1 Lost or stolen cards", [
        "A lost card is frozen at once in the app and a replacement arrives within three working days.",
        # Long enough that this section runs over onto the next page.
        *[f"Fraud check {n}: the card team reviews the last thirty days of payments on the frozen card and "
          f"refunds any payment the customer did not make, usually within two working days of the report."
          for n in range(1, FRAUD_CHECKS + 1)],
    ]),
    (2, "2.2 Card limits", [
        "The daily cash withdrawal limit is 500 pounds and the daily contactless limit is 100 pounds.",
    ]),
    (1, "3. Complaints", ["Complaints are acknowledged within one working day and answered within fifteen."]),
]

FEE_TABLE_HEADER = ["Service", "Fee", "When charged"]
FEE_TABLE_ROWS = [
    ["Monthly account fee", "4.50 GBP", "First day of the month"],
    ["Unarranged overdraft", "6.00 GBP", "Per day overdrawn"],
    ["SEPA transfer", "0.50 EUR", "Per transfer"],
    ["SWIFT transfer", "15.00 USD", "Per transfer"],
    ["Replacement card", "5.00 GBP", "Per card sent"],
    ["Foreign ATM withdrawal", "2.75 percent", "Per withdrawal"],
    ["Paper statement", "2.00 GBP", "Per statement"],
]
TABLE_INTRO = "The fees below apply to every personal current account from 1 April 2026."
TABLE_OUTRO = "Fees are shown on the monthly statement and can be disputed within sixty days."

LEFT_COLUMN = [
    f"Left column sentence {n} explains savings rules in plain words for every customer." for n in range(1, 9)
]
RIGHT_COLUMN = [
    f"Right column sentence {n} describes mortgage terms that apply to new borrowers." for n in range(1, 9)
]


def _font(pdf, style: str = "", size: float = 11) -> None:
    pdf.set_font("helvetica", style=style, size=size)


def make_layout_pdf(path: Path, *, title: str = HANDBOOK_TITLE, sections=HANDBOOK_SECTIONS) -> Path:
    """A multi-page handbook: a 20 pt title, 15 pt and 12.5 pt bold headings, 11 pt body text,
    a running header and a "Page N of M" footer with a centred page number."""
    from fpdf import FPDF

    class Handbook(FPDF):
        def header(self):
            _font(self, size=8)
            self.cell(0, 8, HANDBOOK_HEADER, new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-15)
            _font(self, size=8)
            self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="L")
            self.cell(0, 5, str(self.page_no()), align="R")

    pdf = Handbook()
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    _font(pdf, "B", 20)
    pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    for level, heading, paragraphs in sections:
        if level == 1 and heading.startswith("2."):
            pdf.add_page()  # chapter 2 starts a page, so page 1 ends in chapter 1
        pdf.ln(3)
        _font(pdf, "B", 15 if level == 1 else 12.5)
        pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        _font(pdf)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(path))
    return path


def make_table_pdf(path: Path, *, ruled: bool = True, header=FEE_TABLE_HEADER, rows=FEE_TABLE_ROWS,
                   heading: str = "Account fees") -> Path:
    """A heading, a paragraph, a fee table (ruled: every cell boxed; unruled: cells placed on a grid, no lines),
    another paragraph, and a second section after it."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    _font(pdf, "B", 15)
    pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
    _font(pdf)
    pdf.multi_cell(0, 6, TABLE_INTRO, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (70, 40, 70)
    for index, row in enumerate([header, *rows]):
        _font(pdf, "B" if index == 0 else "")
        for width, value in zip(widths, row):
            pdf.cell(width, 8, value, border=1 if ruled else 0)
        pdf.ln(8)
    pdf.ln(4)
    _font(pdf)
    pdf.multi_cell(0, 6, TABLE_OUTRO, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _font(pdf, "B", 15)
    pdf.multi_cell(0, 8, "Contact", new_x="LMARGIN", new_y="NEXT")
    _font(pdf)
    pdf.multi_cell(0, 6, "Questions about fees go to the fees desk on extension 4400.", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def make_two_column_pdf(path: Path) -> Path:
    """A full-width title and intro over two columns of text. The lines are drawn row by row across both
    columns (left line 1, right line 1, left line 2, ...), as many producers write them, so only the
    geometry tells the reading order: a reader that follows the drawing order interleaves the columns."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    _font(pdf, "B", 18)
    pdf.multi_cell(0, 10, "Savings and Mortgages Brief", new_x="LMARGIN", new_y="NEXT")
    _font(pdf)
    pdf.multi_cell(0, 6, "This brief covers two products, one per column.", new_x="LMARGIN", new_y="NEXT")
    column_width, gutter, pitch = 85, 10, 6
    columns = []
    for sentences in (LEFT_COLUMN, RIGHT_COLUMN):
        lines: list[str] = []
        for sentence in sentences:
            lines += pdf.multi_cell(column_width, pitch, sentence, dry_run=True, output="LINES")
            lines.append("")  # a blank line between paragraphs
        columns.append(lines)
    top = pdf.get_y() + 10
    for row, pair in enumerate(zip(*columns)):
        for x, line in zip((pdf.l_margin, pdf.l_margin + column_width + gutter), pair):
            if line:
                pdf.text(x, top + row * pitch, line)
    pdf.output(str(path))
    return path


MERGED_ROW = "Cash deposits are free"  # a DOCX row whose first two cells are merged into one


def make_table_docx(path: Path, *, header=FEE_TABLE_HEADER, rows=FEE_TABLE_ROWS) -> Path:
    """A DOCX with a heading, a paragraph, a fee table whose title row spans every column and whose last row
    merges its first two cells, and a paragraph after the table."""
    import docx

    document = docx.Document()
    document.add_heading("Fee schedule", level=1)
    document.add_heading("Account fees", level=2)
    document.add_paragraph(TABLE_INTRO)
    table = document.add_table(rows=len(rows) + 3, cols=len(header))
    title_row = table.rows[0].cells
    title_row[0].merge(title_row[-1]).text = "Personal account fees"  # a title across the table, one cell
    for row, values in zip(table.rows[1:], [header, *rows]):
        for cell, value in zip(row.cells, values):
            cell.text = value
    last = table.rows[-1].cells
    last[0].merge(last[1]).text = MERGED_ROW
    last[2].text = "Never"
    document.add_paragraph(TABLE_OUTRO)
    document.save(str(path))
    return path


def make_long_table_pdf(path: Path, rows: int = 45) -> Path:
    """A ruled two-column table running over a page break, its header row printed on the first page only."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    _font(pdf, "B", 15)
    pdf.multi_cell(0, 8, "Service charges", new_x="LMARGIN", new_y="NEXT")
    _font(pdf)
    with pdf.table(col_widths=(60, 40), repeat_headings=0) as table:
        for values in [("Item", "Charge"), *((f"Service number {n}", f"{n}.00 GBP") for n in range(1, rows + 1))]:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.output(str(path))
    return path
