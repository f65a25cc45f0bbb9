"""Traffic replay: pacing and bounds (scripted clock), bad input, and a real replay through the hot path."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.models import InputError
from backend.observability import simulate
from backend.observability.conventions import STAGES

ROOT = Path(__file__).resolve().parents[2]


class ScriptedClock:
    """Time that moves only when the replay sleeps or a request 'takes' time (control flow test)."""

    def __init__(self, request_s: float = 0.0):
        self.now = 0.0
        self.request_s = request_s
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_replay_paces_requests_and_stops_at_the_duration():
    clock = ScriptedClock()
    asked: list[tuple[float, str]] = []

    def ask(question):
        asked.append((clock.now, question))
        clock.now += 0.01

    report = simulate.replay(ask, ["a", "b"], rate=4, duration=2, clock=clock.clock, sleep=clock.sleep)
    assert report.planned == 8 and report.sent == 8 and report.ok == 8
    assert [round(t, 2) for t, _ in asked] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert {q for _, q in asked} <= {"a", "b"}


def test_a_slow_pipeline_falls_behind_without_overrunning_the_duration():
    clock = ScriptedClock()

    def ask(question):
        clock.now += 0.7  # slower than the 0.25 s schedule

    report = simulate.replay(ask, ["a"], rate=4, duration=2, clock=clock.clock, sleep=clock.sleep)
    assert report.sent == 3 and clock.sleeps == []  # t = 0, 0.7, 1.4; the next would start after 2 s
    assert report.achieved_qps < 4


def test_failures_are_counted_and_the_replay_goes_on():
    clock = ScriptedClock()
    calls = iter(range(100))

    def ask(question):
        if next(calls) % 2:
            raise InputError("question: too long")
        return type("A", (), {"cached": True, "found": False, "trace_id": "t"})()

    report = simulate.replay(ask, ["a"], rate=10, duration=1, clock=clock.clock, sleep=clock.sleep)
    assert (report.sent, report.ok, report.errors) == (10, 5, 5)
    assert report.error_messages == {"question: too long": 5}
    assert (report.cache_hits, report.not_found, len(report.trace_ids)) == (5, 5, 5)


@pytest.mark.parametrize("rate, duration, option", [(0, 10, "--rate"), (51, 10, "--rate"), (1, 0, "--duration"),
                                                     (1, 3601, "--duration")])
def test_out_of_bounds_rate_or_duration_is_refused(rate, duration, option):
    with pytest.raises(InputError, match=option):
        simulate.check_bounds(rate, duration)
    assert simulate.check_bounds(50, 3600) == simulate.MAX_REQUESTS


def test_questions_files(tmp_path):
    text = tmp_path / "q.txt"
    text.write_text("# comment\n\nfirst?\n  second?  \n")
    assert simulate.load_questions(text) == ["first?", "second?"]
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text('{"question": "one?"}\n{"question": "two?"}\n')
    assert simulate.load_questions(jsonl) == ["one?", "two?"]
    assert len(simulate.load_questions(ROOT / "data" / "gold" / "demo.jsonl")) > 50
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": 1}\n')
    with pytest.raises(InputError, match="bad.jsonl: record 1"):
        simulate.load_questions(bad)
    with pytest.raises(InputError, match="missing.txt"):
        simulate.load_questions(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(InputError, match="no questions"):
        simulate.load_questions(tmp_path / "empty.txt")


def test_only_loopback_model_servers(settings):
    settings.generator = "openai"
    settings.openai_base_url = "https://api.example.com/v1"
    with pytest.raises(InputError, match="loopback"):
        simulate.check_loopback(settings)
    settings.openai_base_url = "http://127.0.0.1:8000/v1"
    simulate.check_loopback(settings)


@pytest.fixture
def small_corpus(data_dir, settings, tmp_path):
    """Two demo documents ingested through the real platform."""
    from backend.platform import Platform

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("refunds-and-chargebacks.md", "fees-and-charges-2025.md"):
        (docs / name).write_text((ROOT / "data" / "demo" / name).read_text())
    with Platform(settings) as platform:
        platform.corpus.ingest([docs], collection="demo")
    return data_dir


@pytest.mark.slow
def test_simulate_drives_the_real_pipeline_one_span_per_stage(small_corpus, tmp_path, capsys):
    from backend.cli import main
    from backend.settings import get_settings
    from backend.store.db import Store

    questions = tmp_path / "questions.txt"
    questions.write_text("How long does a customer have to report a card payment they did not make?\n"
                         "How much is the fee for an international transfer?\n")
    assert main(["simulate", "--questions", str(questions), "--rate", "20", "--duration", "1.5",
                 "--in-order", "--no-cache", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sent"] >= 1 and summary["errors"] == 0 and summary["traces"] == summary["sent"]

    store = Store(get_settings().db_path)
    try:
        traces = store.query_dicts("SELECT trace_id, root_span_id, question, collection, tokens_in, top_score FROM traces")
        assert len(traces) == summary["sent"]
        for trace in traces:
            spans = store.query_dicts("SELECT span_id, parent_span_id, name FROM spans WHERE trace_id = ?", [trace["trace_id"]])
            children = [s for s in spans if s["parent_span_id"] is not None]
            names = [s["name"] for s in children]
            # every pipeline stage the default settings run appears once, as a child of the request
            assert len(names) == len(set(names))
            assert {"redact", "contextualize", "embed_query", "cache_lookup", "bm25", "dense", "fuse", "compress",
                    "generate", "verify", "redact_answer"} <= set(names) <= set(STAGES)  # dashboards order by STAGES
            assert {s["parent_span_id"] for s in children} == {trace["root_span_id"]}
            assert trace["collection"] == "demo" and trace["tokens_in"] > 0
            assert 0 < trace["top_score"] <= 1  # dense cosine similarity
    finally:
        store.close()

    assert main(["traces", "list", "--limit", "1", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 1 and listed[0]["spans"][0]["name"] == "rag.ask"
    assert all({"name", "duration_ms", "attributes"} <= set(s) for s in listed[0]["spans"])
    assert main(["traces", "list", "--limit", "1"]) == 0
    assert "redact_answer" in capsys.readouterr().out


def test_simulate_names_a_missing_collection(data_dir, tmp_path, capsys):
    from backend.cli import main

    questions = tmp_path / "q.txt"
    questions.write_text("anything?\n")
    assert main(["simulate", "--questions", str(questions), "--rate", "1", "--duration", "1",
                 "--collection", "nope"]) == 2
    assert "--collection: 'nope' does not exist" in capsys.readouterr().err


def test_traces_list_without_traces_and_prune(data_dir, capsys):
    from backend.cli import main

    assert main(["traces", "list"]) == 0
    assert "no traces yet" in capsys.readouterr().out
    assert main(["traces", "list", "--limit", "0"]) == 2
    assert main(["traces", "prune", "--days", "30"]) == 0
    assert "deleted 0 traces" in capsys.readouterr().out
