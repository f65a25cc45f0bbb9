"""`python -m backend ask`: the JSON contract, sessions, --batch, and clear errors on bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.cli import main

ROOT = Path(__file__).resolve().parents[1]
FEES = """# Fees and Charges Policy

## Transfers

Domestic transfers are free for personal customers. From 1 April 2025 an international transfer sent over SWIFT
costs £3.50 per transfer, whatever the amount or destination.
"""
REFUNDS = """# Refunds Policy

Customers have 90 days from the date a fee first appears on their statement to ask for it to be refunded.
"""


@pytest.fixture
def corpus(data_dir, tmp_path):
    from backend.platform import Platform
    from backend.settings import get_settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fees.md").write_text(FEES)
    (docs / "refunds.md").write_text(REFUNDS)
    with Platform(get_settings()) as platform:
        platform.corpus.ingest([docs], collection="demo")
    return data_dir


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_json_contract(corpus, capsys):
    assert main(["ask", "How much does an international transfer cost?", "--json"]) == 0
    out = _json(capsys)
    assert {"answer", "citations", "grounded", "latency_ms", "cached"} <= set(out)
    assert "£3.50" in out["answer"] and out["grounded"] is True and out["cached"] is False
    assert isinstance(out["latency_ms"], float) and out["latency_ms"] > 0
    [citation] = out["citations"]
    assert {"document_id", "chunk_id", "title", "quote", "score"} <= set(citation)
    assert citation["title"] == "Fees and Charges Policy" and 0.5 <= citation["score"] <= 1.0
    assert isinstance(citation["document_id"], int) and isinstance(citation["chunk_id"], int)
    assert main(["ask", "How much does an international transfer cost?", "--json"]) == 0
    assert _json(capsys)["cached"] is True


def test_session_carries_the_conversation(corpus, capsys):
    assert main(["ask", "What does a domestic transfer cost?", "--json"]) == 0
    session = _json(capsys)["session"]
    assert main(["ask", "and for international transfers?", "--session", session, "--json", "--no-cache"]) == 0
    assert "£3.50" in _json(capsys)["answer"]


def test_human_output_streams_the_answer_then_the_sources(corpus, capsys):
    assert main(["ask", "How long do customers have to ask for a fee refund?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Customers have 90 days")
    assert '[1] Refunds Policy (Refunds Policy) - support 1.00 (supported)' in out
    assert "grounded" in out and "--session" in out


def test_batch_answers_each_line_with_its_id(corpus, tmp_path, capsys):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"id": "a", "question": "How much does an international transfer cost?"}) + "\n\n"
        + json.dumps({"id": 7, "question": ""}) + "\n"
        + json.dumps({"id": "c", "question": "How long do customers have to ask for a fee refund?"}) + "\n"
    )
    assert main(["ask", "--batch", str(batch)]) == 1  # one question was bad; the others were answered
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7, "c"]
    assert "£3.50" in lines[0]["answer"] and "90 days" in lines[2]["answer"]
    assert lines[1] == {"id": 7, "error": "question: empty; type a question about the documents"}


@pytest.mark.parametrize("content, message", [
    ('{"id": 1, "question": "ok?"}\nnot json\n', "line 2: not JSON"),
    ('{"question": "no id"}\n', 'line 1: needs an object with "id" and "question"'),
    ('{"id": 1, "question": 5}\n', "line 1: question must be a string"),
    ("\n\n", "no questions in the file"),
])
def test_malformed_batch_file_fails_before_asking_anything(corpus, tmp_path, capsys, content, message):
    batch = tmp_path / "bad.jsonl"
    batch.write_text(content)
    assert main(["ask", "--batch", str(batch)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and str(batch) in captured.err


@pytest.mark.parametrize("argv, message", [
    (["ask", ""], "question: empty"),
    (["ask", "x" * 20_000], "over the limit of 4,000"),
    (["ask", "\udcff\udcfe\x00\x01" * 20], "not readable text"),
    (["ask", "fees?", "--collection", "nope"], "collection 'nope' does not exist"),
    (["ask", "fees?", "--session", "nope"], "session 'nope' does not exist"),
    (["ask"], "give a question"),
    (["ask", "--batch", "missing.jsonl"], "missing.jsonl: no such file"),
])
def test_bad_input_exits_2_with_one_line(corpus, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_real_entry_point_batch_loads_models_once(corpus, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join(json.dumps({"id": i, "question": q}) for i, q in enumerate([
        "How much does an international transfer cost?", "How long do customers have to ask for a fee refund?"])))
    env = {**os.environ, "GROUNDWORK_DATA_DIR": str(corpus), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "backend", "ask", "--batch", str(batch)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == [0, 1] and all(line["grounded"] for line in lines)
