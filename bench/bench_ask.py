"""Chat quality and speed on the demo gold set: not-found calibration, citations, ragas scores, compression, latency, cache.

    python -m bench.bench_ask [--data-dir DIR] [--json]     (also part of `python -m bench`)

Uses GROUNDWORK_DATA_DIR (or --data-dir) when it already holds the `demo` collection, else ingests data/demo
into a scratch directory. Prints figures; asserts nothing (speed belongs here, not in tests). Quality is
reported overall and by kind of question (narrow, broad, unanswerable); each question's outcome in the first
pass goes to bench/results/ask-questions.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.results_file import save

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

GOLD = ROOT / "data" / "gold" / "demo.jsonl"
PARAPHRASES = ROOT / "data" / "gold" / "paraphrases.jsonl"
RESULTS = ROOT / "bench" / "results" / "ask.json"  # the figures behind the README's "Chat quality" section
QUESTIONS = ROOT / "bench" / "results" / "ask-questions.jsonl"  # one line per gold question of the first pass
THRESHOLDS = (0.80, 0.85, 0.90, 0.95)
KINDS = ("narrow", "broad", "unanswerable")
_MARKERS = re.compile(r"\s*\[\d+\??\]")


def kind(item: dict) -> str:
    """narrow, broad or unanswerable; gold rows written before broad questions existed carry no `kind`."""
    return item.get("kind") or ("narrow" if item.get("answerable") else "unanswerable")


def _read_jsonl(path: Path) -> list[dict]:
    from backend.jsonl import json_objects  # after the sys.path insert above

    return [row for _, row in json_objects(path.read_text(encoding="utf-8"), lambda n: f"{path} line {n}")]


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def open_platform(data_dir: str | None):
    from backend.platform import Platform
    from backend.settings import Settings

    if data_dir:
        platform = Platform(Settings(data_dir=Path(data_dir)))
        if platform.corpus.has_collection("demo") and platform.corpus.count_documents("demo"):
            return platform
        platform.close()
    scratch = Path(tempfile.mkdtemp(prefix="bench-ask-"))
    platform = Platform(Settings(data_dir=scratch))
    print(f"ingesting data/demo into {scratch} ...", file=sys.stderr)
    platform.corpus.ingest([ROOT / "data" / "demo"], collection="demo")
    return platform


def calibrate(rag, gold: list[dict], collection: str = "demo") -> dict:
    """Best extractive sentence score per gold question (standalone form), and the threshold separating
    answerable from unanswerable questions best (balanced accuracy). Broad questions are left out: an overview
    of the document they are about answers them whatever the best single sentence scores."""
    from backend.generation.context import assemble_context
    from backend.generation.encoder import RelevanceScorer
    from backend.generation.extractive import ExtractiveGenerator, calibrate_threshold

    settings = rag.settings
    generator = ExtractiveGenerator(settings, rag.encoder)
    scores = {True: [], False: []}
    for item in gold:
        if kind(item) == "broad":
            continue
        question = item.get("standalone") or item["question"]
        hits = rag.retrieve(question, collection, settings.retrieval_mode, settings.top_k)
        pack = assemble_context(hits, question, settings.context_token_budget, compress=settings.compress_context,
                                scorer=RelevanceScorer(rag.encoder))
        scores[bool(item["answerable"])].append(generator.best_score(question, pack.passages))
    threshold, accuracy = calibrate_threshold(scores[True], scores[False])
    return {"threshold": round(threshold, 3), "balanced_accuracy": round(accuracy, 3),
            "answerable_median": round(float(np.median(scores[True])), 3),
            "unanswerable_median": round(float(np.median(scores[False])), 3),
            "setting": settings.answer_threshold}


def run_gold(rag, gold: list[dict], scorer, sources: dict[int, str], collection: str = "demo") -> dict:
    """Ask every gold question (follow-ups inside a conversation opened by the question they follow)."""
    by_id = {item["id"]: item for item in gold}
    latencies, context_tokens, rows = [], [], []
    conversations: dict[str, str] = {}
    for item in gold:
        conversation = None
        if item.get("follows") in by_id:
            first = by_id[item["follows"]]
            opening = rag.ask(first["question"], collection, use_cache=False)
            conversation = opening.conversation_id
        answer = rag.ask(item["question"], collection, conversation, remember=conversation is not None, use_cache=False)
        conversations[item["id"]] = conversation or ""
        latencies.append(answer.latency_ms)
        context_tokens.append(answer.tokens_in)
        cited = {Path(sources.get(c.document_id, "")).name for c in answer.citations if c.supported}
        plain = _MARKERS.sub("", answer.text)
        metrics = scorer.score(item["question"], plain, item["answer"], [], [], abstained=not answer.found)
        rows.append({"id": item["id"], "kind": kind(item), "answerable": item["answerable"], "found": answer.found,
                     "cites_gold": bool(item.get("document")) and item["document"] in cited,
                     "grounded": answer.grounded, "citations": len(answer.citations),
                     "rouge_l": metrics.get("rouge_l"),
                     "semantic": metrics.get("semantic_similarity"), "string": metrics.get("string_similarity")})
    figures = {"questions": len(rows), **_quality(rows),
               "context_tokens_mean": round(float(np.mean(context_tokens)), 1),
               "latency_ms_p50": _pct(latencies, 50), "latency_ms_p95": _pct(latencies, 95)}
    unanswerable = [r for r in rows if not r["answerable"]]
    figures["by_kind"] = {}
    for name in KINDS:
        own = [r for r in rows if r["kind"] == name]
        if not own:
            continue
        per_kind = {"questions": len(own), **_quality(own), "answered_share": _ratio(sum(r["found"] for r in own), len(own))}
        # A kind's not-found precision: how many "not found" answers are right when its questions are asked among
        # the unanswerable ones. For the unanswerable kind itself, the precision over every question.
        mixed = rows if name == "unanswerable" else own + unanswerable
        per_kind["not_found_precision"] = _quality(mixed)["not_found_precision"]
        figures["by_kind"][name] = {key: value for key, value in per_kind.items() if value is not None}
    figures["rows"] = rows
    return figures


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _quality(rows: list[dict]) -> dict:
    """Answered, citing the gold document, every citation supported, and not-found precision and recall."""
    answerable = [r for r in rows if r["answerable"]]
    answered = [r for r in answerable if r["found"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    said_not_found = [r for r in rows if not r["found"]]
    mean = lambda key, rs: round(float(np.mean([r[key] for r in rs if r[key] is not None])), 3) if rs else None  # noqa: E731
    return {
        "answered_share": _ratio(len(answered), len(answerable)),
        "cites_gold_share_of_answered": _ratio(sum(r["cites_gold"] for r in answered), len(answered)),
        "cites_gold_share_of_answerable": _ratio(sum(r["cites_gold"] for r in answerable), len(answerable)),
        "not_found_precision": _ratio(sum(not r["answerable"] for r in said_not_found), len(said_not_found)),
        "not_found_recall": _ratio(sum(not r["found"] for r in unanswerable), len(unanswerable)),
        # grounded: an answer whose every citation is supported by the passage it cites
        "grounded_share_of_answered": _ratio(sum(r["grounded"] for r in answered), len(answered)),
        "citations_mean_of_answered": mean("citations", answered),
        "rouge_l_answerable": mean("rouge_l", answerable),
        "semantic_similarity_answerable": mean("semantic", answerable),
        "string_similarity_answerable": mean("string", answerable),
    }


def cache_latency(rag, gold: list[dict], collection: str = "demo") -> dict:
    """Each answerable standalone question asked twice through the cache: the second is an exact hit."""
    hits = []
    for item in gold:
        if not item["answerable"]:
            continue
        question = item.get("standalone") or item["question"]
        rag.ask(question, collection, remember=False)
        again = rag.ask(question, collection, remember=False)
        if again.cached:
            hits.append(again.latency_ms)
    return {"cache_hits": len(hits), "cache_hit_ms_p50": _pct(hits, 50), "cache_hit_ms_p95": _pct(hits, 95)}


def semantic_false_hits(rag, pairs: list[dict]) -> dict:
    """Each pair through the real cache: store an answer for `a`, look up `b` by meaning. A false hit is a
    reuse across questions that should not match; a paraphrase hit is a reuse that should happen. Reported
    for the cache as built (embedding similarity plus the same-figures check) and for the cosine alone."""
    from backend.chat.cache import AnswerCache, CacheKey
    from backend.models import Answer

    probe = AnswerCache(rag.store, rag.settings.model_copy(update={"semantic_cache_threshold": -1.0, "cache_enabled": True}))
    decisions = []  # (similarity the cache reused at, or -1 when it refused; raw cosine; should match)
    for n, pair in enumerate(pairs):
        key = CacheKey("bench-paraphrases", "bench", 0, f"pair-{n}-{time.time_ns()}")
        a, b = rag.platform.embedder.encode_query(pair["a"]), rag.platform.embedder.encode_query(pair["b"])
        probe.put(pair["a"], a, key, Answer(text="x"))
        hit = probe.lookup(pair["b"], b, key)
        decisions.append((hit.similarity if hit else -1.0, float(a @ b), bool(pair["same"])))
    rag.store.execute("DELETE FROM cache_entries WHERE collection = 'bench-paraphrases'")
    negatives = sum(not same for _, _, same in decisions)
    positives = len(decisions) - negatives
    out = {"pairs": len(pairs), "should_match": positives, "should_not_match": negatives}
    for threshold in THRESHOLDS:
        for label, index in (("", 0), ("cosine_only_", 1)):
            false_hits = sum(d[index] >= threshold and not d[2] for d in decisions)
            true_hits = sum(d[index] >= threshold and d[2] for d in decisions)
            out[f"{label}false_hit_rate@{threshold}"] = round(false_hits / max(1, negatives), 3)
            out[f"{label}paraphrase_hit_rate@{threshold}"] = round(true_hits / max(1, positives), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ask", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GROUNDWORK_DATA_DIR"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    from backend.evaluation.ragas_runner import AnswerScorer

    gold, pairs = _read_jsonl(GOLD), _read_jsonl(PARAPHRASES)
    platform = open_platform(args.data_dir)
    try:
        quiet = platform.settings.model_copy(update={"cache_enabled": False})
        rag = platform.derive(quiet).chat
        sources = platform.corpus.document_source_map("demo")
        scorer = AnswerScorer(platform.embedder)
        rag.ask(gold[0]["question"], "demo", remember=False, use_cache=False)  # warm: models and analyzer loaded
        # First pass: most chunks are new to the sentence cache, as for a freshly started app.
        report = {"extractive": run_gold(rag, gold, scorer, sources)}
        report["calibration"] = calibrate(rag, gold)
        warm = run_gold(rag, gold, scorer, sources)  # every sentence embedding now cached, as in a running app
        report["extractive"]["warm_latency_ms_p50"] = warm["latency_ms_p50"]
        report["extractive"]["warm_latency_ms_p95"] = warm["latency_ms_p95"]
        compressed = platform.derive(quiet, compress_context=True).chat
        report["extractive_compressed"] = run_gold(compressed, gold, scorer, sources)
        report["extractive_compressed"].pop("rows")
        cached = platform.derive(cache_enabled=True).chat
        report["cache"] = cache_latency(cached, gold)
        report["semantic_cache"] = semantic_false_hits(cached, pairs)
        report["semantic_cache"]["threshold_setting"] = platform.settings.semantic_cache_threshold
    finally:
        platform.close()
    rows = report["extractive"].pop("rows")
    save(RESULTS, report)
    QUESTIONS.write_text("".join(json.dumps(row) + "\n" for row in rows))
    if args.json:
        print(json.dumps(report))
    else:
        for section, figures in report.items():
            print(f"\n{section}")
            for name, value in figures.items():
                if name != "by_kind":
                    print(f"  {name:38s} {value}")
            if "by_kind" in figures:
                _print_by_kind(figures["by_kind"])
    return 0


def _print_by_kind(by_kind: dict[str, dict]) -> None:
    """One column per kind of question, one row per figure ("-" where a figure does not apply)."""
    kinds = list(by_kind)
    names = list(dict.fromkeys(name for figures in by_kind.values() for name in figures))
    print(f"  {'by kind':38s} " + " ".join(f"{k:>13s}" for k in kinds))
    for name in names:
        cells = [by_kind[k].get(name) for k in kinds]
        print(f"    {name:36s} " + " ".join(f"{'-' if c is None else c!s:>13s}" for c in cells))


if __name__ == "__main__":
    sys.exit(main())
