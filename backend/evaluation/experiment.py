"""Run an experiment: every grid point over every gold question through the real hot path, stored as it goes."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from backend.context import RequestContext
from backend.evaluation import access, goldsets, runs
from backend.evaluation.failure_analysis import ERROR, Outcome, classify
from backend.evaluation.goldsets import GoldItem, GoldSet
from backend.evaluation.grid import Experiment, GridPoint, expand_grid, parse_experiment
from backend.evaluation.metrics import RANK_DEPTH, RETRIEVAL_METRICS, document_ranking, retrieval_scores, summarize
from backend.evaluation.ragas_runner import QUOTE_MATCH_THRESHOLD, AnswerScorer, judge_from_settings
from backend.models import GroundworkError, InputError, LoadedDocument
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.platform import Platform

PASS_RATE = "pass_rate"  # share of questions with no failure class: the headline quality number
# Chunks fetched for the ranked candidate list: enough distinct documents for nDCG@10 and to tell a
# ranking miss (gold below the cut-off) from a retrieval miss (gold nowhere).
RANKED_CHUNKS = 3 * RANK_DEPTH
_CHUNK_TEXT_KEPT = 1200


@dataclass
class Progress:
    """One progress report: which run of how many, and how far it is (phase: index | question | finished)."""

    run_number: int
    runs_total: int
    label: str
    done: int
    total: int
    phase: str = "question"
    run_id: int | None = None

    @property
    def fraction(self) -> float:
        if not self.runs_total:
            return 1.0
        within = self.done / self.total if self.total else 1.0
        return min(1.0, ((self.run_number - 1) + within) / self.runs_total)

    def describe(self) -> str:
        if self.phase == "index":
            return f"[run {self.run_number}/{self.runs_total}] {self.label}: indexing a scratch collection"
        return f"[run {self.run_number}/{self.runs_total}] {self.label}: {self.done}/{self.total} questions"


ProgressFn = Callable[[Progress], None]


@dataclass
class RunOutcome:
    run_id: int
    label: str
    resumed_from: int  # questions already stored when this process picked the run up
    summary: dict = field(default_factory=dict)


# --- gold sets by name -------------------------------------------------------------------------
def resolve_gold(platform, spec: str, collection: str | None = None, split: str = "test",
                 ctx: RequestContext | None = None) -> GoldSet:
    """`demo`, a stored gold set's name, a .jsonl/.csv path, `beir:DIR` (qrels SPLIT) or `traffic[:N]`.

    File-based sets are (re)snapshotted in DuckDB so every run points at exactly the questions it used; storing one
    needs write rights on its collection, reading a stored one only read rights.
    """
    store = platform.store
    if not spec:
        raise InputError("--gold: name a gold set (demo, a stored name, a .jsonl/.csv file, beir:DIR or traffic)")
    if spec == "demo":
        gold = goldsets.demo_goldset(collection or "demo")
    elif spec.startswith("beir:"):
        directory = Path(spec[5:])
        gold = goldsets.beir_goldset(directory, split, collection or f"beir-{directory.resolve().name}")
    elif spec == "traffic" or spec.startswith("traffic:"):
        limit = spec.partition(":")[2] or "50"
        if not limit.isdigit():
            raise InputError(f"--gold {spec}: use traffic:N with N a number of questions")
        target = collection or platform.settings.default_collection
        return goldsets.build_goldset(platform, target, lambda: goldsets.traffic_goldset(
            store, target, f"traffic-{target}", limit=int(limit)), ctx)
    elif spec.lower().endswith((".jsonl", ".csv", ".ndjson")):
        gold = goldsets.read_gold_file(spec, collection=collection or platform.settings.default_collection)
    else:
        return goldsets.load_goldset(store, spec, access.scope(platform, ctx))
    return goldsets.register_goldset(platform, gold, ctx)


# --- scratch collections for other chunk settings ---------------------------------------------
def collection_chunking(platform, collection: str) -> tuple[int, int]:
    info = next((c for c in platform.corpus.collections() if c["name"] == collection), None)
    recorded = (info or {}).get("index_settings") or {}
    return (int(recorded.get("chunk_tokens", platform.settings.chunk_tokens)),
            int(recorded.get("chunk_overlap", platform.settings.chunk_overlap)))


def scratch_name(base: str, chunk_tokens: int, chunk_overlap: int, index_version: int) -> str:
    digest = hashlib.sha256(f"{base}|{chunk_tokens}|{chunk_overlap}|{index_version}".encode()).hexdigest()[:8]
    return f"scratch-{base[:30]}-{chunk_tokens}-{chunk_overlap}-{digest}"


class ScratchIndexes:
    """Copies of a collection re-chunked with other settings, each behind a platform derived with those settings.

    A platform checks every index against the settings that built it, so a copy with other chunk sizes needs
    a derived platform (the same store, embedder and open indexes) and its own collection name.
    """

    def __init__(self, platform):
        self.platform = platform
        self._platforms: dict[tuple[int, int], Platform] = {}

    def for_point(self, base: str, settings: Settings, on_index: Callable[[], None] | None = None) -> tuple[Platform, str]:
        if (settings.chunk_tokens, settings.chunk_overlap) == collection_chunking(self.platform, base):
            return self.platform, base
        key = (settings.chunk_tokens, settings.chunk_overlap)
        if key not in self._platforms:
            self._platforms[key] = self.platform.derive(chunk_tokens=key[0], chunk_overlap=key[1])
        scratch_platform = self._platforms[key]
        name = scratch_name(base, key[0], key[1], self.platform.corpus.index_version(base))
        wanted = self.platform.corpus.count_documents(base)
        if not scratch_platform.corpus.has_collection(name) or scratch_platform.corpus.count_documents(name) < wanted:
            if on_index:
                on_index()
            if not scratch_platform.corpus.has_collection(name):
                # The copy belongs to the base collection's tenant: its documents are that tenant's.
                scratch_platform.corpus.create_collection(
                    name, tenant=self.platform.corpus.collection_row(base)["tenant"],
                    description=f"evaluation copy of {base!r} chunked {key[0]}/{key[1]}")
            # Unchanged documents are skipped on re-ingest, so an interrupted copy resumes where it stopped.
            report = scratch_platform.corpus.ingest_records(name, list(self._documents(base)), label=f"eval scratch copy of {base}")
            if report.failed:
                raise GroundworkError(f"re-chunking {base!r} into {name!r} failed for {report.failed[0].path}: {report.failed[0].message}")
        return scratch_platform, name

    def _documents(self, base: str):
        for row in self.platform.corpus.documents(base, limit=None):
            doc = self.platform.corpus.document(row["id"])
            yield LoadedDocument(source=doc.source, title=doc.title, mime_type=doc.mime_type, text=doc.text,
                                 sections=list(doc.sections), metadata=dict(doc.metadata or {}))

    def close(self) -> None:
        self._platforms.clear()  # derived platforms share the root's store and are closed with it


# --- one grid point ------------------------------------------------------------------------
class PointEvaluator:
    """Answers gold questions with one configuration through the hot path (RAG), untraced and uncached."""

    def __init__(self, platform, collection: str, settings: Settings, scorer: AnswerScorer, min_answer_score: float,
                 retrieval_only: bool = False):
        # Evaluation traffic must not land in the traces (drift, traffic gold sets) or the answer cache.
        quiet = Settings.model_validate({**settings.model_dump(), "tracing_enabled": False, "cache_enabled": False})
        self.settings = quiet
        self.platform = platform
        self.collection = collection
        self.rag = platform.derive(quiet).chat
        self.rag.generator(quiet.generator)  # an unusable generator fails before anything is stored
        if quiet.reranker != "none":
            from backend.retrieval.rerank import build_reranker

            build_reranker(quiet)
        self.scorer = scorer
        self.min_answer_score = min_answer_score
        self.retrieval_only = retrieval_only
        self.keys = goldsets.document_keys(platform.corpus.document_source_map(collection))

    @property
    def metric_names(self) -> tuple[str, ...]:
        return RETRIEVAL_METRICS + (() if self.retrieval_only else self.scorer.metric_names) + (PASS_RATE,)

    def evaluate(self, item: GoldItem, ordinal: int) -> dict:
        if self.retrieval_only:
            return self.evaluate_retrieval(item, ordinal)
        s = self.settings
        result = {"item_id": item.id, "ordinal": ordinal, "question": item.question,
                  "reference_answer": item.reference_answer}
        gold = goldsets.resolve_relevant(item, self.keys)
        try:
            answer = self.rag.ask(item.question, self.collection, mode=s.retrieval_mode, k=s.top_k,
                                  remember=False, use_cache=False)
            ranked = self.rag.retrieve(answer.standalone_question or item.question, self.collection, s.retrieval_mode,
                                       max(RANKED_CHUNKS, s.top_k))
        except GroundworkError as exc:
            return self._error(result, exc)
        context_ids = {h.chunk_id for h in answer.hits}
        context_docs = {h.chunk.document_id for h in answer.hits if h.chunk is not None}
        ranking = document_ranking(ranked)
        gold_rank = next((n for n, doc in enumerate(ranking, start=1) if doc in gold), None)
        if gold_rank is None and context_docs & set(gold):  # a reranker may surface what the deeper list ranked lower
            gold_rank = next(h.rank for h in answer.hits if h.chunk is not None and h.chunk.document_id in gold)
        metrics = retrieval_scores(gold, ranking, s.top_k, context=document_ranking(answer.hits))
        contexts = [h.chunk.text for h in answer.hits if h.chunk is not None]
        abstained = not answer.found
        metrics.update(self.scorer.score(item.question, answer.text, item.reference_answer, contexts, item.evidence, abstained))
        answer_score = metrics.get("semantic_similarity")
        if answer_score is None:
            answer_score = metrics.get("rouge_l")
        if (metrics.get("evidence_match") or 0.0) >= QUOTE_MATCH_THRESHOLD:
            answer_score = 1.0  # the answer quotes the gold evidence
        failure, reason = classify(Outcome(
            answerable=item.answerable, has_gold_documents=bool(gold), gold_rank=gold_rank,
            gold_in_context=bool(context_docs & set(gold)), abstained=abstained,
            answer_score=answer_score if item.reference_answer else None,
            supported=all(c.supported for c in answer.citations),
        ), self.min_answer_score)
        metrics[PASS_RATE] = 1.0 if failure == "ok" else 0.0
        return {
            **result, "answer": answer.text, "metrics": metrics, "gold_rank": gold_rank,
            "retrieved": self._retrieved(ranked, answer.hits, context_ids, gold),
            "latency_ms": answer.latency_ms, "tokens_in": answer.tokens_in, "tokens_out": answer.tokens_out,
            "cost_usd": answer.cost_usd, "failure_class": failure, "failure_reason": reason,
        }

    def evaluate_retrieval(self, item: GoldItem, ordinal: int) -> dict:
        """Rank only (no answer): for gold sets that judge documents, not answers, e.g. a BEIR import."""
        from backend.chat.questions import clean_question

        s = self.settings
        result = {"item_id": item.id, "ordinal": ordinal, "question": item.question,
                  "reference_answer": item.reference_answer, "answer": None}
        gold = goldsets.resolve_relevant(item, self.keys)
        try:
            question = clean_question(item.question, s)
            started = time.perf_counter()
            context = self.rag.retrieve(question, self.collection, s.retrieval_mode, s.top_k)
            latency_ms = (time.perf_counter() - started) * 1000.0
            ranked = self.rag.retrieve(question, self.collection, s.retrieval_mode, max(RANKED_CHUNKS, s.top_k))
        except GroundworkError as exc:
            return self._error(result, exc)
        ranking = document_ranking(ranked)
        context_docs = {h.chunk.document_id for h in context if h.chunk is not None}
        gold_rank = next((n for n, doc in enumerate(ranking, start=1) if doc in gold), None)
        metrics = retrieval_scores(gold, ranking, s.top_k, context=document_ranking(context))
        if gold:
            failure, reason = classify(Outcome(
                answerable=True, has_gold_documents=True, gold_rank=gold_rank, gold_in_context=bool(context_docs & set(gold)),
                abstained=False, answer_score=None, supported=True,
            ))
            metrics[PASS_RATE] = 1.0 if failure == "ok" else 0.0
        else:
            failure, reason = "ok", "not scored: no gold documents (retrieval-only run)"
            metrics[PASS_RATE] = None
        return {**result, "metrics": metrics, "gold_rank": gold_rank,
                "retrieved": self._retrieved(ranked, context, {h.chunk_id for h in context}, gold),
                "latency_ms": latency_ms, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0,
                "failure_class": failure, "failure_reason": reason}

    def _error(self, result: dict, exc: Exception) -> dict:
        metrics = {name: None for name in self.metric_names} | {PASS_RATE: 0.0}
        return {**result, "metrics": metrics, "failure_class": ERROR, "failure_reason": str(exc), "retrieved": []}

    @staticmethod
    def _retrieved(ranked, context_hits, context_ids: set[int], gold: dict[int, int]) -> list[dict]:
        rows: list[dict] = []
        seen: set[int] = set()
        for hit in list(ranked) + [h for h in context_hits if h.chunk_id not in {r.chunk_id for r in ranked}]:
            if hit.chunk is None or hit.chunk_id in seen:
                continue
            seen.add(hit.chunk_id)
            rows.append({
                "rank": len(rows) + 1, "chunk_id": hit.chunk_id, "document_id": hit.chunk.document_id,
                "document": Path(str(hit.chunk.source)).name or hit.chunk.source, "title": hit.chunk.title,
                "score": round(float(hit.fused_score), 6), "gold": hit.chunk.document_id in gold,
                "in_context": hit.chunk_id in context_ids, "text": hit.chunk.text[:_CHUNK_TEXT_KEPT],
            })
        return rows


# --- the experiment --------------------------------------------------------------------------
def run_experiment(platform, experiment: Experiment, gold: GoldSet, progress: ProgressFn | None = None,
                   ctx: RequestContext | None = None) -> list[RunOutcome]:
    """Run (or resume) every grid point. Validation happens before anything is stored; each question's
    result is committed on its own; a run becomes 'finished' only once all its questions are in. The caller
    needs write rights on the collection; the questions then run as the system (untraced, uncached)."""
    collection = experiment.collection or gold.collection
    access.require_writable(platform, collection, ctx)
    if gold.collection != collection:
        raise InputError(f"gold set {gold.name!r} is for collection {gold.collection!r}, the experiment for {collection!r}")
    goldsets.check_against_corpus(gold, goldsets.document_keys(platform.corpus.document_source_map(collection)))
    points = expand_grid(experiment, platform.settings)
    items = gold.items[: experiment.limit] if experiment.limit else list(gold.items)
    scorer = AnswerScorer(platform.embedder, judge_from_settings(platform.settings))
    for point in points:  # a generator or reranker that cannot be built fails before anything is stored
        PointEvaluator(platform, collection, point.settings, scorer, experiment.min_answer_score, experiment.retrieval_only)

    experiment_id = runs.create_experiment(platform.store, experiment.name, gold.name, experiment.to_dict(), collection)
    scratch = ScratchIndexes(platform)
    outcomes: list[RunOutcome] = []
    try:
        for number, point in enumerate(points, start=1):
            outcomes.append(_run_point(platform, scratch, experiment, experiment_id, gold, items, point, number,
                                       len(points), scorer, progress))
    finally:
        scratch.close()
    return outcomes


def _run_point(platform, scratch, experiment, experiment_id, gold, items, point: GridPoint, number, total, scorer,
               progress) -> RunOutcome:
    report = progress or (lambda _: None)
    target, collection = scratch.for_point(
        experiment.collection or gold.collection, point.settings,
        on_index=lambda: report(Progress(number, total, point.label, 0, len(items), phase="index")),
    )
    evaluator = PointEvaluator(target, collection, point.settings, scorer, experiment.min_answer_score,
                               experiment.retrieval_only)
    index_version = target.corpus.index_version(collection)
    base = experiment.collection or gold.collection
    config = {**point.config, "retrieval_only": experiment.retrieval_only, "min_answer_score": experiment.min_answer_score}
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    existing = runs.find_resumable(platform.store, gold.name, gold.content_hash, config_hash, base,
                                   runs.code_version(), index_version)
    if existing and existing["n_questions"] == len(items):
        run_id = existing["id"]
    else:
        run_id = runs.create_run(
            platform.store, experiment_id=experiment_id, label=point.label, gold_set=gold.name, gold_hash=gold.content_hash,
            base_collection=base, collection=collection, config={**config, "overrides": point.overrides},
            config_hash=config_hash, index_version=index_version, n_questions=len(items),
        )
    done = runs.done_items(platform.store, run_id)
    resumed_from = len(done)
    report(Progress(number, total, point.label, len(done), len(items), run_id=run_id))
    try:
        for ordinal, item in enumerate(items):
            if item.id in done:
                continue
            runs.save_result(platform.store, run_id, evaluator.evaluate(item, ordinal))
            done.add(item.id)
            report(Progress(number, total, point.label, len(done), len(items), run_id=run_id))
        summary = summarize(runs.results(platform.store, run_id, with_retrieved=False), evaluator.metric_names)
        summary["unavailable"] = {} if experiment.retrieval_only else scorer.unavailable()
        summary["label"] = point.label
        runs.finish_run(platform.store, run_id, summary)
    except (KeyboardInterrupt, SystemExit):
        raise  # left 'running': the next `eval run` with the same config resumes it
    except Exception as exc:
        runs.fail_run(platform.store, run_id, f"{type(exc).__name__}: {exc}")
        raise
    report(Progress(number, total, point.label, len(items), len(items), phase="finished", run_id=run_id))
    return RunOutcome(run_id=run_id, label=point.label, resumed_from=resumed_from, summary=summary)


def resume_experiment(platform, experiment_id: int, progress: ProgressFn | None = None,
                      ctx: RequestContext | None = None) -> list[RunOutcome]:
    """Run a stored experiment again with its stored file and gold set: unfinished runs pick up where they stopped."""
    row = access.require_experiment(platform, experiment_id, ctx)
    experiment = parse_experiment(row["config"], f"experiment {experiment_id} ({row['name']})")
    experiment.collection = experiment.collection or row["collection"]
    gold = goldsets.load_goldset(platform.store, row["gold_set"], access.scope(platform, ctx))
    return run_experiment(platform, experiment, gold, progress, ctx)
