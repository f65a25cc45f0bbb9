"""Answer and context quality with ragas: non-LLM metrics always, LLM-judged ones only when a judge is configured."""
from __future__ import annotations

import asyncio
import math
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# ragas 0.4.3 warns on import of the single-turn metric classes it is migrating; they are still the ones
# that implement the non-LLM context metrics, so silence the noise instead of every caller seeing it.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langchain_core.callbacks import Callbacks
    from ragas.dataset_schema import SingleTurnSample
    from ragas.embeddings.base import BaseRagasEmbedding
    from ragas.metrics import NonLLMContextPrecisionWithReference, NonLLMContextRecall
    from ragas.metrics.base import MetricType, SingleTurnMetric
    from ragas.metrics.collections import BleuScore, NonLLMStringSimilarity, RougeScore, SemanticSimilarity
    from ragas.run_config import RunConfig

NON_LLM_METRICS = (
    "context_precision", "context_recall", "string_similarity", "rouge_l", "bleu", "semantic_similarity", "evidence_match",
)
LLM_METRICS = ("faithfulness", "answer_relevancy", "llm_context_precision")
_CITATION_MARKER = re.compile(r"\s*\[\d+\??\]")  # the [n] (or unsupported [n?]) markers answers carry
# A retrieved chunk "contains" an evidence quote when the best-aligned window matches this closely.
QUOTE_MATCH_THRESHOLD = 0.9


@dataclass
class QuoteContainment(SingleTurnMetric):
    """String distance for the non-LLM context metrics: how well a short evidence quote aligns inside a chunk.

    ragas' default (whole-string Levenshtein) compares a one-sentence quote to a 200-token chunk and so
    scores near zero even when the chunk holds the quote verbatim; partial alignment is what we mean.
    """

    name: str = "quote_containment"
    _required_columns: dict = field(default_factory=lambda: {MetricType.SINGLE_TURN: {"reference", "response"}})

    def init(self, run_config: RunConfig) -> None:
        pass

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks: Callbacks) -> float:
        return quote_containment(sample.response or "", sample.reference or "")

    async def _ascore(self, row: dict, callbacks: Callbacks) -> float:
        return await self._single_turn_ascore(SingleTurnSample(**row), callbacks)


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def quote_containment(quote: str, passage: str) -> float:
    """1.0 when `quote` appears in `passage` (whitespace and case aside); else rapidfuzz's partial ratio."""
    from rapidfuzz import fuzz

    quote, passage = _normalise(quote), _normalise(passage)
    if not quote or not passage:
        return 0.0
    if quote in passage:
        return 1.0
    return fuzz.partial_ratio(quote, passage) / 100.0


class LocalRagasEmbedding(BaseRagasEmbedding):
    """The platform's own sentence-transformers embedder behind ragas' embeddings interface (no network)."""

    def __init__(self, embedder, cache_size: int = 4096):
        super().__init__()
        self.embedder = embedder
        # Reference answers recur in every run of a grid, and answers often do: embed each text once.
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size

    def embed_text(self, text: str, **kwargs) -> list[float]:
        text = text or " "
        vector = self._cache.get(text)
        if vector is None:
            encode_query = getattr(self.embedder, "encode_query", None)
            vector = (encode_query(text) if encode_query else self.embedder.encode([text])[0]).tolist()
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return vector

    async def aembed_text(self, text: str, **kwargs) -> list[float]:
        return self.embed_text(text)

    def embed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
        return [self.embed_text(t) for t in texts]

    async def aembed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
        return self.embed_texts(texts)


@dataclass
class JudgeConfig:
    """Where the LLM judge lives; `reason` says why it is unavailable when `model` is empty."""

    base_url: str = ""
    model: str = ""
    api_key: str = "not-needed"
    timeout_s: float = 60.0
    reason: str = ""

    @property
    def available(self) -> bool:
        return bool(self.model)


def judge_from_settings(settings) -> JudgeConfig:
    """A dedicated eval judge if set, else the OpenAI-compatible generator server; otherwise unavailable."""
    model = getattr(settings, "eval_judge_model", "") or ""
    if model:
        return JudgeConfig(
            base_url=getattr(settings, "eval_judge_base_url", "") or settings.openai_base_url, model=model,
            api_key=getattr(settings, "eval_judge_api_key", "") or settings.openai_api_key,
            timeout_s=float(getattr(settings, "eval_judge_timeout_s", 60.0)),
        )
    if settings.openai_model:
        return JudgeConfig(base_url=settings.openai_base_url, model=settings.openai_model,
                           api_key=settings.openai_api_key, timeout_s=settings.openai_timeout_s)
    return JudgeConfig(reason="unavailable (no judge configured: set GROUNDWORK_EVAL_JUDGE_MODEL or GROUNDWORK_OPENAI_MODEL)")


def _clean(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


class AnswerScorer:
    """Scores one answer against the gold item. Metrics that cannot apply (no reference) are None."""

    def __init__(self, embedder=None, judge: JudgeConfig | None = None):
        self.string_similarity = NonLLMStringSimilarity()
        self.rouge = RougeScore(rouge_type="rougeL", mode="fmeasure")
        self.bleu = BleuScore()
        self.embeddings = LocalRagasEmbedding(embedder) if embedder is not None else None
        self.semantic = SemanticSimilarity(embeddings=self.embeddings) if self.embeddings else None
        self.context_precision = NonLLMContextPrecisionWithReference(
            distance_measure=QuoteContainment(), threshold=QUOTE_MATCH_THRESHOLD
        )
        self.context_recall = NonLLMContextRecall(threshold=QUOTE_MATCH_THRESHOLD)
        self.context_recall._distance_measure = QuoteContainment()
        self.judge = judge or JudgeConfig(reason="unavailable (no judge configured)")
        self._judge_metrics: dict[str, Any] | None = None  # ragas metric by name, built on first use

    @property
    def metric_names(self) -> tuple[str, ...]:
        return NON_LLM_METRICS + (LLM_METRICS if self.judge.available else ())

    def unavailable(self) -> dict[str, str]:
        """Metrics this scorer will not produce, with the reason (shown on the leaderboard and in the CLI)."""
        out = {} if self.judge.available else {m: self.judge.reason for m in LLM_METRICS}
        if self.semantic is None:
            out["semantic_similarity"] = "unavailable (no embedder)"
        return out

    def score(self, question: str, answer: str, reference: str, contexts: list[str], evidence: list[str],
              abstained: bool = False) -> dict[str, float | None]:
        return asyncio.run(self.ascore(question, answer, reference, contexts, evidence, abstained))

    async def ascore(self, question, answer, reference, contexts, evidence, abstained=False) -> dict[str, float | None]:
        scores: dict[str, float | None] = {name: None for name in self.metric_names}
        if evidence:
            if contexts:
                sample = SingleTurnSample(retrieved_contexts=contexts, reference_contexts=evidence)
                scores["context_precision"] = _clean(await self.context_precision.single_turn_ascore(sample))
                scores["context_recall"] = _clean(await self.context_recall.single_turn_ascore(sample))
            else:
                scores["context_precision"] = scores["context_recall"] = 0.0
            # Does the answer carry a supporting quote? An extractive answer that quotes the evidence is right even
            # when its wording is far from a short paraphrased reference (low semantic similarity).
            plain = _CITATION_MARKER.sub("", answer or "")
            scores["evidence_match"] = 0.0 if abstained or not plain else max(quote_containment(e, plain) for e in evidence)
        if reference:
            # An abstention is scored as the empty answer: a "not found" sentence must not earn string overlap.
            response = "" if abstained else (answer or "")
            scores["string_similarity"] = _clean((await self.string_similarity.ascore(reference=reference, response=response)).value)
            scores["rouge_l"] = _clean((await self.rouge.ascore(reference=reference, response=response)).value)
            scores["bleu"] = _clean((await self.bleu.ascore(reference=reference, response=response)).value) if response else 0.0
            if self.semantic is not None:
                scores["semantic_similarity"] = (
                    _clean((await self.semantic.ascore(reference=reference, response=response)).value) if response else 0.0
                )
        if self.judge.available and answer and not abstained:
            scores.update(await self._judged(question, answer, reference, contexts))
        return scores

    # --- LLM judge ---------------------------------------------------------------------
    def _build_judge(self):
        from openai import AsyncOpenAI
        from ragas.llms import llm_factory
        from ragas.metrics.collections import (
            AnswerRelevancy,
            ContextPrecisionWithoutReference,
            ContextPrecisionWithReference,
            Faithfulness,
        )

        client = AsyncOpenAI(base_url=self.judge.base_url, api_key=self.judge.api_key, timeout=self.judge.timeout_s, max_retries=1)
        llm = llm_factory(self.judge.model, client=client)
        metrics = {
            "faithfulness": Faithfulness(llm=llm),
            "precision_ref": ContextPrecisionWithReference(llm=llm),
            "precision_noref": ContextPrecisionWithoutReference(llm=llm),
        }
        if self.embeddings is not None:
            metrics["answer_relevancy"] = AnswerRelevancy(llm=llm, embeddings=self.embeddings)
        return metrics

    async def _judged(self, question, answer, reference, contexts) -> dict[str, float | None]:
        if self._judge_metrics is None:
            self._judge_metrics = self._build_judge()
        m = self._judge_metrics
        out: dict[str, float | None] = {}

        async def attempt(name, coroutine):
            # A judge that times out or returns junk leaves that metric empty for this question, not the run dead.
            try:
                out[name] = _clean((await coroutine).value)
            except Exception:  # noqa: BLE001 - any judge failure is a missing score
                out[name] = None

        if contexts:
            await attempt("faithfulness", m["faithfulness"].ascore(user_input=question, response=answer, retrieved_contexts=contexts))
            if reference:
                await attempt("llm_context_precision", m["precision_ref"].ascore(user_input=question, reference=reference, retrieved_contexts=contexts))
            else:
                await attempt("llm_context_precision", m["precision_noref"].ascore(user_input=question, response=answer, retrieved_contexts=contexts))
        if "answer_relevancy" in m:
            await attempt("answer_relevancy", m["answer_relevancy"].ascore(user_input=question, response=answer))
        return out
