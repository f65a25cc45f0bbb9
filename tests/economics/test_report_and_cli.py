"""The decision report (Markdown, PDF) and `python -m backend decide`: JSON shape, exit 2 with a named field."""
import io
import json

import pytest
from pypdf import PdfReader

from backend.cli import main
from backend.economics.decision import analyze
from backend.economics.report import decision_markdown, decision_pdf

ISSUE_EXAMPLE = ["decide", "analyze", "--knowledge-changes", "weekly", "--needs-citations", "true",
                 "--style-requirements", "high", "--training-data", "200 examples", "--latency-requirement", "2s",
                 "--monthly-queries", "100000"]
ANSWERS = {"knowledge_changes": "weekly", "needs_citations": "true", "style_requirements": "high",
           "training_data": "200 examples", "latency_requirement": "2s", "monthly_queries": "100000"}


def test_markdown_report_has_every_part(catalog):
    text = decision_markdown(analyze(ANSWERS, catalog))
    assert "## Recommendation: Hybrid: RAG + a LoRA adapter (hybrid)" in text
    assert "| How often does the knowledge change? | weekly | RAG |" in text
    assert "## Fine-tuning checklist: 2 of 10" in text and "- [x] 100+ high-quality examples" in text
    assert "| RAG | $2,520 | $25,000 | $85,485 |" in text
    assert "- LLM input tokens: 100,000 requests x 1,000 tokens x $2.50/1M = $250" in text
    assert "REFERENCE.md (source material, 2026)" in text


def test_pdf_report_is_a_readable_pdf(catalog):
    data = decision_pdf(analyze(ANSWERS, catalog))
    assert data.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Recommendation: Hybrid: RAG + a LoRA adapter" in text
    assert "$85,485" in text and "24-month TCO" in text


def test_cli_json_for_the_issue_example(capsys, catalog_file):
    assert main(ISSUE_EXAMPLE + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["recommendation"] == "hybrid"
    assert isinstance(data["reasons"], list) and all(isinstance(r, str) for r in data["reasons"])
    assert data["monthly_cost"] == pytest.approx(sum(data["costs"].values()), abs=0.05)
    assert data["projections"]["rag"]["monthly_costs"]["LLM input tokens"] == 250.0
    assert set(data["projections"]) == {"rag", "fine-tuning", "hybrid"}


def test_cli_text_and_report_files(capsys, catalog_file, tmp_path):
    md, pdf = tmp_path / "report.md", tmp_path / "report.pdf"
    assert main(ISSUE_EXAMPLE + ["--report", str(md)]) == 0
    assert main(ISSUE_EXAMPLE + ["--report", str(pdf)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Recommendation: Hybrid: RAG + a LoRA adapter (hybrid)")
    assert "## Recommendation" in md.read_text() and pdf.read_bytes().startswith(b"%PDF")
    assert main(ISSUE_EXAMPLE + ["--report", str(tmp_path / "report.docx")]) == 2
    assert "--report:" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, message", [
    ("--monthly-queries", "-5", "error: monthly queries: '-5' must be at least 1"),
    ("--monthly-queries", "lots", "error: monthly queries: 'lots' is not a number"),
    ("--knowledge-changes", "2 fortnights", "error: knowledge changes: unknown unit 'fortnights'"),
    ("--latency-requirement", "2", "error: latency requirement: '2' has no unit"),
])
def test_cli_bad_input_exits_2_naming_the_field(capsys, catalog_file, flag, value, message):
    args = list(ISSUE_EXAMPLE)
    args[args.index(flag) + 1] = value
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and "Traceback" not in captured.err


def test_cli_empty_and_malformed_catalogs_exit_2(capsys, catalog_file):
    catalog_file.write_text("")
    assert main(ISSUE_EXAMPLE) == 2
    assert "is empty" in capsys.readouterr().err
    catalog_file.write_text("gpus:\n  - name: L4\n    hourly_usd: lots\n")
    assert main(["decide", "catalog"]) == 2
    err = capsys.readouterr().err
    assert "gpus row 1 ('L4'): field hourly_usd" in err and "Traceback" not in err


def test_cli_plan_cost_and_catalog(capsys, catalog_file):
    assert main(["decide", "plan", "--peak-qps", "10", "--slo", "6s", "--cost-ceiling", "$5k", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    # L4: 10 x (1,000/4,000 + 200/1,200) = 4.17 GPU-s/s at 70% -> ceil(5.95) = 6 replicas x $0.80 x 730 h
    assert plan["replicas"] == 6 and plan["monthly_cost"] == pytest.approx(6 * 0.8 * 730)
    assert plan["binding"] in {"latency SLO", "cost ceiling", "throughput"} and plan["relax"]
    assert main(["decide", "plan", "--peak-qps", "0", "--slo", "6s", "--cost-ceiling", "5000"]) == 2
    assert "--peak-qps: '0' must be above 0" in capsys.readouterr().err
    assert main(["decide", "cost", "--monthly-queries", "100k", "--json"]) == 0
    cost = json.loads(capsys.readouterr().out)
    assert cost["api"]["costs"]["LLM input tokens"] == 250.0 and cost["break_even_queries"] > 0
    assert main(["decide", "catalog"]) == 0
    assert "catalog is valid" in capsys.readouterr().out
