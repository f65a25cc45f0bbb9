"""Regenerate the demo corpus's PDF and DOCX files in data/demo from their sources in data/demo-src."""
from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document as DocxDocument
from docx.shared import Pt
from fpdf import FPDF
from fpdf.fonts import FontFace

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "data" / "demo-src"
OUTPUT_DIR = ROOT / "data" / "demo"
# Fixed dates so regenerating unchanged sources gives byte-identical files (stable content hashes).
FIXED_TIME = dt.datetime(2025, 4, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
ZIP_TIME = (2025, 4, 1, 9, 0, 0)
AUTHOR = "Northwind Ledger Ltd"


@dataclass
class Block:
    kind: str  # "h1", "h2", "para", "bullets", "table"
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Source:
    name: str  # output stem, e.g. "aml-kyc-policy"
    fmt: str  # "pdf" or "docx"
    title: str
    meta: str
    header: str
    footer: str
    blocks: list[Block]


def parse_source(path: Path) -> Source:
    """Read the small markup used in data/demo-src: `key: value` front matter, `---`, then the body.

    Body: `# ` and `## ` headings, `- ` bullet lines, `| a | b |` table rows (first row is the
    header), and paragraphs separated by blank lines (wrapped lines are joined with a space).
    """
    text = path.read_text(encoding="utf-8")
    front, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"{path.name}: missing the '---' line after the front matter")
    meta: dict[str, str] = {}
    for line in front.splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    missing = {"title", "format", "meta", "header", "footer"} - meta.keys()
    if missing:
        raise ValueError(f"{path.name}: front matter lacks {', '.join(sorted(missing))}")
    if meta["format"] not in ("pdf", "docx"):
        raise ValueError(f"{path.name}: format must be pdf or docx, not {meta['format']!r}")

    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush_paragraph() -> None:
        if paragraph:
            blocks.append(Block("para", text=" ".join(paragraph)))
            paragraph.clear()

    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            flush_paragraph()
        elif line.startswith("## "):
            flush_paragraph()
            blocks.append(Block("h2", text=line[3:]))
        elif line.startswith("# "):
            flush_paragraph()
            blocks.append(Block("h1", text=line[2:]))
        elif line.startswith("- "):
            flush_paragraph()
            if not blocks or blocks[-1].kind != "bullets":
                blocks.append(Block("bullets"))
            blocks[-1].items.append(line[2:])
        elif line.startswith("|"):
            flush_paragraph()
            if not blocks or blocks[-1].kind != "table":
                blocks.append(Block("table"))
            blocks[-1].rows.append([cell.strip() for cell in line.strip("|").split("|")])
        else:
            paragraph.append(line)
    flush_paragraph()

    name = path.name.removesuffix(".src.txt")
    source = Source(name, meta["format"], meta["title"], meta["meta"], meta["header"], meta["footer"], blocks)
    if source.fmt == "pdf":
        _check_latin1(path, source)
    return source


def _check_latin1(path: Path, source: Source) -> None:
    """The PDFs use the core Helvetica font, which covers Latin-1 only (so write EUR, not the euro sign)."""
    texts = [source.title, source.meta, source.header, source.footer]
    for block in source.blocks:
        texts += [block.text, *block.items, *(cell for row in block.rows for cell in row)]
    for text in texts:
        bad = sorted({ch for ch in text if ord(ch) > 255})
        if bad:
            raise ValueError(f"{path.name}: characters outside Latin-1 in a PDF source: {''.join(bad)!r}")


class HandbookPDF(FPDF):
    """An A4 page with the document's header line on top and its footer line with page numbers below."""

    def __init__(self, source: Source) -> None:
        super().__init__(format="A4")
        self.source = source
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=True, margin=20)
        self.alias_nb_pages()

    def header(self) -> None:
        self.set_y(9)
        self.set_font("helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.source.header, align="C")
        self.set_text_color(0, 0, 0)
        self.set_y(20)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font("helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self.source.footer} | Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def render_pdf(source: Source) -> bytes:
    pdf = HandbookPDF(source)
    pdf.set_title(source.title)
    pdf.set_author(AUTHOR)
    pdf.set_creator("scripts/make_demo_docs.py")
    pdf.set_creation_date(FIXED_TIME)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.multi_cell(0, 8, source.title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font("helvetica", "I", 9)
    pdf.multi_cell(0, 4.5, source.meta, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    def keep_with_next(height: float) -> None:
        # A heading must not be stranded at the foot of a page, away from its text.
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()

    for block in source.blocks:
        if block.kind == "h1":
            keep_with_next(25)
            pdf.ln(2)
            pdf.set_font("helvetica", "B", 13)
            pdf.multi_cell(0, 7, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif block.kind == "h2":
            keep_with_next(20)
            pdf.set_font("helvetica", "B", 11)
            pdf.multi_cell(0, 6, block.text, new_x="LMARGIN", new_y="NEXT")
        elif block.kind == "para":
            pdf.set_font("helvetica", "", 10)
            pdf.multi_cell(0, 5, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif block.kind == "bullets":
            pdf.set_font("helvetica", "", 10)
            for item in block.items:
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(pdf.epw - 4, 5, f"- {item}", align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            pdf.ln(1)
        elif block.kind == "table":
            keep_with_next(30)
            pdf.set_font("helvetica", "", 9)
            # Columns sized by their longest cell (within bounds), so short columns do not waste width.
            longest = [max(len(row[c]) if c < len(row) else 0 for row in block.rows)
                       for c in range(max(len(row) for row in block.rows))]
            with pdf.table(
                col_widths=tuple(min(max(n, 12), 60) for n in longest),
                headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 240)),
                line_height=5,
                text_align="LEFT",
            ) as table:
                for row in block.rows:
                    table_row = table.row()
                    for cell in row:
                        table_row.cell(cell)
            pdf.ln(3)
    return bytes(pdf.output())


def render_docx(source: Source) -> bytes:
    doc = DocxDocument()
    props = doc.core_properties
    props.title = source.title
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.created = FIXED_TIME.replace(tzinfo=None)
    props.modified = FIXED_TIME.replace(tzinfo=None)
    props.revision = 1
    doc.styles["Normal"].font.size = Pt(10.5)

    section = doc.sections[0]
    section.header.paragraphs[0].text = source.header
    section.footer.paragraphs[0].text = source.footer

    doc.add_heading(source.title, level=0)
    meta = doc.add_paragraph()
    meta.add_run(source.meta).italic = True
    for block in source.blocks:
        if block.kind == "h1":
            doc.add_heading(block.text, level=1)
        elif block.kind == "h2":
            doc.add_heading(block.text, level=2)
        elif block.kind == "para":
            doc.add_paragraph(block.text)
        elif block.kind == "bullets":
            for item in block.items:
                doc.add_paragraph(item, style="List Bullet")
        elif block.kind == "table":
            width = max(len(row) for row in block.rows)
            table = doc.add_table(rows=len(block.rows), cols=width)
            table.style = "Table Grid"
            for r, row in enumerate(block.rows):
                for c, cell in enumerate(row):
                    paragraph = table.cell(r, c).paragraphs[0]
                    run = paragraph.add_run(cell)
                    run.bold = r == 0
    buffer = io.BytesIO()
    doc.save(buffer)
    return _with_fixed_zip_times(buffer.getvalue())


def _with_fixed_zip_times(data: bytes) -> bytes:
    """python-docx stamps each zip entry with the current time; fix it so output is reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def build(source_dir: Path = SOURCE_DIR) -> dict[str, bytes]:
    """Every generated file, by its name in data/demo."""
    files: dict[str, bytes] = {}
    for path in sorted(source_dir.glob("*.src.txt")):
        source = parse_source(path)
        render = render_pdf if source.fmt == "pdf" else render_docx
        files[f"{source.name}.{source.fmt}"] = render(source)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUTPUT_DIR, help="where to write (default: data/demo)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if any file in --out differs from what the sources give")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        stale = [name for name, data in files.items()
                 if not (args.out / name).exists() or (args.out / name).read_bytes() != data]
        for name in stale:
            print(f"out of date: {args.out / name}")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        print(f"wrote {args.out / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
