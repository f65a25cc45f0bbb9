"""The decision report as Markdown and as PDF (fpdf2), from one DecisionResult."""
from __future__ import annotations

import datetime as dt

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from backend.economics.cost_model import usd
from backend.economics.decision import APPROACH_TITLES, CHECKLIST, RECOMMENDATION_TITLES, DecisionResult

POINTS_TO = {
    "rag": "RAG", "fine-tuning": "fine-tuning", "hybrid": "hybrid", "either": "either",
    "no-fine-tuning": "no fine-tuning", "lora": "LoRA / QLoRA", "full-fine-tuning": "full fine-tuning possible",
}


def _report_sections(result: DecisionResult) -> dict:
    """Everything both formats print, in order: plain strings and rows."""
    inputs = result.inputs
    months = result.assumptions.months
    return {
        "title": "RAG or fine-tuning: decision report",
        "generated": f"Groundwork, {dt.date.today().isoformat()}",
        "recommendation": f"Recommendation: {RECOMMENDATION_TITLES[result.recommendation]} ({result.recommendation})",
        "summary": result.summary,
        "warnings": result.warnings,
        "factor_rows": [[f.question, f.answer, POINTS_TO.get(f.points_to, f.points_to), f.reason] for f in result.factors],
        "sufficiency": result.data_sufficiency.text,
        "checklist_title": f"Fine-tuning checklist: {result.checklist_score} of {len(result.checklist)}",
        "checklist": [(CHECKLIST[key], ok) for key, ok in result.checklist.items()],
        "costs_title": f"Cost projections at {inputs.monthly_queries:,} queries a month",
        "cost_rows": [[APPROACH_TITLES[name], usd(p.monthly.total), usd(p.one_time.total), usd(p.tco)]
                      for name, p in result.projections.items()],
        "cost_header": ["approach", "monthly", "one-time", f"{months}-month TCO"],
        "formulas": {
            APPROACH_TITLES[name]: [f"{line.name}: {line.formula}" for line in p.monthly.lines + p.one_time.lines]
            + [f"{months}-month TCO: {p.tco_formula}"]
            for name, p in result.projections.items()
        },
        "assumptions": [
            f"RAG input tokens per query: {result.assumptions.rag_tokens_in:,}; tuned model without retrieval: "
            f"{result.assumptions.tuned_tokens_in:,}; output tokens: {result.assumptions.tokens_out:,}",
            f"Fine-tuning option: {result.fine_tune_option}; {result.assumptions.training_cycles} training cycles before "
            f"release; {result.assumptions.epochs} epochs of {result.assumptions.tokens_per_example:,} tokens per example",
            f"Knowledge changes {inputs.knowledge_changes.label}: a knowledge-bearing fine-tune retrains that often; "
            f"adapters retrain {result.assumptions.refresh_retrains_per_month:.2f} times a month for base-model upgrades",
        ],
        "sources": [f"{s['name']}: {s['source']} (read {s['date']})" for s in result.sources],
    }


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def decision_markdown(result: DecisionResult) -> str:
    r = _report_sections(result)
    out = [f"# {r['title']}", "", f"_{r['generated']}_", "", f"## {r['recommendation']}", "", r["summary"], ""]
    out += [f"> **Note:** {w}" for w in r["warnings"]] + ([""] if r["warnings"] else [])
    out += ["## The five questions", ""] + _md_table(["question", "answer", "points to", "why"], r["factor_rows"]) + [""]
    out += ["## Data sufficiency", "", r["sufficiency"], "", f"## {r['checklist_title']}", ""]
    out += [f"- [{'x' if ok else ' '}] {item}" for item, ok in r["checklist"]] + [""]
    out += [f"## {r['costs_title']}", ""] + _md_table(r["cost_header"], r["cost_rows"]) + ["", "### Formulas", ""]
    for approach, formulas in r["formulas"].items():
        out += [f"**{approach}**", ""] + [f"- {_md_cell(f)}" for f in formulas] + [""]
    out += ["## Assumptions", ""] + [f"- {a}" for a in r["assumptions"]] + [""]
    out += ["## Price sources", ""] + [f"- {s}" for s in r["sources"]] + [""]
    return "\n".join(out)


# The PDF core fonts are Latin-1 only; map the few wider characters the report can contain.
_LATIN1 = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2192": "->", "\u2265": ">=", "\u2264": "<=",
                         "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u00a0": " "})


def _latin1(text: str) -> str:
    return str(text).translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


class _ReportPdf(FPDF):
    def footer(self):
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, f"Groundwork decision report - page {self.page_no()}", align="C")


def decision_pdf(result: DecisionResult) -> bytes:
    r = _report_sections(result)
    pdf = _ReportPdf(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def heading(text: str, size: int = 13) -> None:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", size)
        pdf.multi_cell(0, 7, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=10)

    def para(text: str) -> None:
        pdf.multi_cell(0, 5, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table(header: list[str], rows: list[list[str]], widths: tuple[int, ...]) -> None:
        pdf.set_font("Helvetica", size=9)
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5) as grid:
            for row in [header] + rows:
                cells = grid.row()
                for cell in row:
                    cells.cell(_latin1(cell))
        pdf.set_font("Helvetica", size=10)

    heading(r["title"], 16)
    para(r["generated"])
    heading(r["recommendation"])
    para(r["summary"])
    for warning in r["warnings"]:
        para(f"Note: {warning}")
    heading("The five questions")
    table(["question", "answer", "points to", "why"], r["factor_rows"], (30, 18, 20, 62))
    heading("Data sufficiency")
    para(r["sufficiency"])
    heading(r["checklist_title"])
    for item, ok in r["checklist"]:
        para(f"[{'x' if ok else ' '}] {item}")
    heading(r["costs_title"])
    table(r["cost_header"], r["cost_rows"], (30, 25, 25, 30))
    heading("Formulas", 11)
    for approach, formulas in r["formulas"].items():
        pdf.set_font("Helvetica", "B", 10)
        para(approach)
        pdf.set_font("Helvetica", size=9)
        for formula in formulas:
            para(f"- {formula}")
    heading("Assumptions")
    for line in r["assumptions"]:
        para(f"- {line}")
    heading("Price sources")
    pdf.set_font("Helvetica", size=8)
    for line in r["sources"]:
        para(f"- {line}")
    return bytes(pdf.output())
