"""A data-subject access report: everything found about the person, as JSON (machine-readable) and as PDF (fpdf2)."""
from __future__ import annotations

import json
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from backend.privacy.finder import Occurrence, SubjectFindings

FORMATS = ("json", "pdf")
TITLE = "Personal data held by Groundwork"
PDF_ROWS_PER_STORE = 400  # past this, the PDF says how many more the JSON lists
# A Unicode TrueType font, so names of every origin print as written; the core fonts are Latin-1 only.
_FONT_PLACES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/TTF/DejaVuSans.ttf")


def _by_store(findings: SubjectFindings) -> dict[str, list[Occurrence]]:
    stores: dict[str, list[Occurrence]] = {}
    for occurrence in findings.occurrences:
        stores.setdefault(occurrence.store, []).append(occurrence)
    return stores


def report_dict(findings: SubjectFindings, request_id: str = "") -> dict:
    """The whole report as plain values: every occurrence unmasked (the person's own data), grouped by store."""
    stores = _by_store(findings)
    return {
        "report": TITLE,
        "generated_at": findings.scanned_at.isoformat(timespec="seconds") + "Z",
        "request_id": request_id,
        "identifiers": findings.request.described(),
        "summary": {"occurrences": len(findings.occurrences), "by_store": {s: len(o) for s, o in stores.items()},
                    "by_table": findings.by_table()},
        "stores": {store: [o.to_dict() for o in occurrences] for store, occurrences in stores.items()},
        "coverage": {"tables with a specific finder": findings.covered,
                     "tables covered by the generic scan only": findings.generic_only,
                     "files scanned": findings.files_scanned, "not scanned": findings.notes},
    }


def report_json(findings: SubjectFindings, request_id: str = "") -> bytes:
    return json.dumps(report_dict(findings, request_id), indent=2, ensure_ascii=False, default=str).encode("utf-8")


def _unicode_font() -> str | None:
    places = list(_FONT_PLACES)
    try:
        import matplotlib  # optional: only for the copy of DejaVu it ships

        places.append(str(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"))
    except ImportError:
        pass
    return next((p for p in places if Path(p).is_file()), None)


class _SubjectPdf(FPDF):
    def footer(self):
        self.set_y(-12)
        self.set_font(self.font_family, size=8)
        self.cell(0, 8, f"{TITLE} - page {self.page_no()}", align="C")


def report_pdf(findings: SubjectFindings, request_id: str = "") -> bytes:
    """The person's data grouped by store, with counts and the date."""
    data = report_dict(findings, request_id)
    pdf = _SubjectPdf(format="A4")
    font_file = _unicode_font()
    if font_file:
        pdf.add_font("DejaVu", "", font_file)
        pdf.add_font("DejaVu", "B", font_file)
        family = "DejaVu"
    else:
        family = "Helvetica"

    def text(value) -> str:
        value = " ".join(str(value).split())
        return value if font_file else value.encode("latin-1", "replace").decode("latin-1")

    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font(family, "B", 16)

    def line(value, size: int = 10, bold: bool = False) -> None:
        pdf.set_font(family, "B" if bold else "", size)
        pdf.multi_cell(0, 5 if size <= 10 else 8, text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line(TITLE, 16, True)
    line(f"Date: {data['generated_at'][:10]} (scanned {data['generated_at'][11:19]} UTC)")
    if request_id:
        line(f"Request: {request_id}")
    given = "; ".join(f"{kind.replace('_', ' ')}: {', '.join(values)}" for kind, values in data["identifiers"].items()
                      if values)
    line(f"About: {given}")
    line(f"Occurrences found: {data['summary']['occurrences']}", 12, True)
    pdf.ln(2)
    if data["summary"]["by_store"]:
        pdf.set_font(family, size=9)
        with pdf.table(col_widths=(70, 20), width=90, text_align="LEFT", line_height=5, align="LEFT") as grid:
            for row in [["store", "occurrences"], *([s, str(n)] for s, n in data["summary"]["by_store"].items())]:
                cells = grid.row()
                for cell in row:
                    cells.cell(text(cell))
    for store, occurrences in data["stores"].items():
        pdf.ln(3)
        line(f"{store} ({len(occurrences)})", 13, True)
        pdf.set_font(family, size=8)
        with pdf.table(col_widths=(30, 34, 16, 90), text_align="LEFT", line_height=4) as grid:
            for row in [["where", "row", "value", "context"],
                        *([f"{o['table']} {o['column']}".strip(), o["row"], o["value"], o["context"]]
                          for o in occurrences[:PDF_ROWS_PER_STORE])]:
                cells = grid.row()
                for cell in row:
                    cells.cell(text(cell))
        if len(occurrences) > PDF_ROWS_PER_STORE:
            line(f"... and {len(occurrences) - PDF_ROWS_PER_STORE} more in the JSON report", 9)
    pdf.ln(3)
    line("What was searched", 13, True)
    coverage = data["coverage"]
    line("Tables with a specific finder: " + ", ".join(coverage["tables with a specific finder"]), 9)
    line("Tables covered by the generic scan only: " + (", ".join(coverage["tables covered by the generic scan only"])
                                                         or "none"), 9)
    line("Files scanned: " + ", ".join(f"{k}: {v}" for k, v in coverage["files scanned"].items()), 9)
    for store, why in coverage["not scanned"].items():
        line(f"{store}: {why}", 9)
    return bytes(pdf.output())
