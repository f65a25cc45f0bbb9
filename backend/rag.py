"""The hot path, stage by stage, each a traced span: redact, contextualize, cache, retrieve, fuse, compress, generate, verify, redact."""
from __future__ import annotations

import queue
import re
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from backend.cache import AnswerCache, CacheKey, config_key
from backend.generation.base import Generation, GenerationRequest, build_generator
from backend.generation.citations import CitationVerifier
from backend.generation.context import assemble_context
from backend.generation.prompts import looks_like_injection, reveals_prompt
from backend.generation.text import RelevanceScorer, SentenceEncoder, shared_encoder, split_sentences
from backend.memory import ConversationMemory
from backend.models import Answer, Citation, Hit, InputError
from backend.pii import get_redactor
from backend.retrieval.freshness import prefer_current
from backend.retrieval.retriever import check_mode
from backend.retrieval.fusion import fuse_rankings
from backend.settings import Settings

REFUSAL = "I can't share my instructions. Ask a question about the documents and I will answer from them."
INJECTION_NOTICE = ("Your question contains instructions addressed to the assistant; they were ignored. "
                    "Answers come only from the documents.")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufeff]")


def clean_question(question, settings: Settings) -> str:
    """The question as text we can safely handle, or an InputError naming what is wrong with it."""
    if isinstance(question, bytes):
        question = question.decode("utf-8", errors="replace")
    if not isinstance(question, str):
        raise InputError("question: must be text")
    # Lone surrogates (undecodable bytes on a command line) cannot be stored or encoded: replace them.
    question = question.encode("utf-8", errors="replace").decode("utf-8")
    if len(question) > settings.max_question_chars:
        raise InputError(
            f"question: {len(question):,} characters, over the limit of {settings.max_question_chars:,}; "
            "shorten it to the question itself"
        )
    visible = _CONTROL.sub(" ", unicodedata.normalize("NFC", question))
    visible = re.sub(r"\s+", " ", visible).strip()
    if not visible and not question.strip():
        raise InputError("question: empty; type a question about the documents")
    if not visible:
        raise InputError("question: not readable text (binary data?); type a question in words")
    readable = sum(ch.isalnum() or ch.isspace() or ch in ".,;:?!'\"()-/%£$€&" for ch in visible)
    letters = sum(ch.isalpha() for ch in visible)
    if readable / len(visible) < 0.6 or letters < 2 or len(_CONTROL.findall(question)) > len(question) * 0.1:
        raise InputError("question: not readable text (binary data?); type a question in words")
    return visible


@dataclass
class _Request:
    question: str
    collection: str
    tenant: str
    index_version: int
    conversation_id: str | None
    mode: str
    k: int
    generator_name: str
    remember: bool
    use_cache: bool
    answer: Answer = field(default_factory=lambda: Answer(text=""))


class AnswerStream:
    """Iterate for (redacted) text as it is produced; `.answer` is the final Answer once iteration ends.

    The pipeline runs in a worker thread, so an abandoned stream still finishes and stores its turn.
    """

    _DONE = object()

    def __init__(self, run: Callable[[Callable[[str], None]], Answer]):
        self._queue: queue.Queue = queue.Queue()
        self.answer: Answer | None = None
        self.error: BaseException | None = None

        def work():
            try:
                self.answer = run(self._queue.put)
            except BaseException as exc:  # re-raised in the consumer's thread
                self.error = exc
            finally:
                self._queue.put(self._DONE)

        self._thread = threading.Thread(target=work, name="rag-ask", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[str]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                break
            yield item
        self._thread.join()
        if self.error is not None:
            raise self.error

    def result(self) -> Answer:
        for _ in self:
            pass
        assert self.answer is not None
        return self.answer


class _SentenceGate:
    """Releases streamed text a sentence at a time, redacted, and stops if a sentence repeats our prompt."""

    def __init__(self, redact: Callable[[str], str], emit: Callable[[str], None] | None):
        self.redact = redact
        self.emit = emit
        self.buffer = ""
        self.blocked = False
        self.sent = False

    def feed(self, delta: str) -> None:
        self.buffer += delta
        spans = split_sentences(self.buffer)
        if len(spans) < 2:
            return
        cut = spans[-1].start  # everything before the last (maybe unfinished) sentence is complete
        self._release(self.buffer[:cut])
        self.buffer = self.buffer[cut:]

    def close(self) -> None:
        if self.buffer.strip():
            self._release(self.buffer)
        self.buffer = ""

    def _release(self, text: str) -> None:
        if self.blocked or self.emit is None or not text.strip():
            return
        if reveals_prompt(text):
            self.blocked = True
            return
        self.emit((" " if self.sent else "") + self.redact(text).strip())
        self.sent = True


class RAG:
    """Answers questions over one platform; thread-safe, one instance per process is enough."""

    def __init__(self, platform, settings: Settings | None = None, tracer=None):
        self.platform = platform
        self.settings = settings or platform.settings
        self.store = platform.store
        self.memory = ConversationMemory(self.store, self.settings)
        self.cache = AnswerCache(self.store, self.settings)
        self.redactor = get_redactor(self.settings)
        self._tracer = tracer
        self._encoder: SentenceEncoder | None = None
        self._lock = threading.Lock()

    # --- parts -------------------------------------------------------------------------------
    @property
    def tracer(self):
        if self._tracer is None:
            with self._lock:
                if self._tracer is None:
                    self._tracer = getattr(self.platform, "tracer", None) or _new_tracer(self.store, self.settings)
        return self._tracer

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    self._encoder = shared_encoder(self.platform.embedder)
        return self._encoder

    def generator(self, name: str | None = None):
        return build_generator(self.settings, self.encoder, name)

    def verifier(self) -> CitationVerifier:
        return CitationVerifier(self.encoder, self.settings.citation_support_threshold)

    # --- entry points ------------------------------------------------------------------------
    def ask(self, question, collection: str | None = None, conversation_id: str | None = None, **options) -> Answer:
        request = self._prepare(question, collection, conversation_id, **options)
        return self._run(request, None)

    def ask_stream(self, question, collection: str | None = None, conversation_id: str | None = None, **options) -> AnswerStream:
        """Validates now (bad input raises InputError here), then streams the answer from a worker thread."""
        request = self._prepare(question, collection, conversation_id, **options)
        return AnswerStream(lambda emit: self._run(request, emit))

    def start_conversation(self, collection: str | None = None, title: str = "") -> str:
        collection = collection or self.settings.default_collection
        tenant, _ = self._collection(collection)
        return self.memory.start(collection, tenant, self.redactor(title))

    def warm(self) -> None:
        """Load what the first question would otherwise wait for: the embedder, the PII analyzer, the generator."""
        self.encoder.encode(["warm up the sentence encoder"])
        self.platform.embedder.encode_query("warm up the query encoder")
        self.redactor("warm up the analyzer")
        self.generator()

    def redact(self, text: str) -> str:
        """Text as it may be shown back or stored: the configured PII replaced."""
        return self.redactor(text)

    def feedback(self, message_id: int, score: int, comment: str = "") -> None:
        self.memory.record_feedback(message_id, score, self.redactor(comment or ""))

    # --- preparation -------------------------------------------------------------------------
    def _collection(self, name: str) -> tuple[str, int]:
        rows = self.store.query("SELECT tenant, index_version FROM collections WHERE name = ?", [name])
        if not rows:
            known = ", ".join(r[0] for r in self.store.query("SELECT name FROM collections ORDER BY name")) or "none yet"
            raise InputError(f"collection {name!r} does not exist (collections: {known})")
        return rows[0][0], int(rows[0][1])

    def _prepare(self, question, collection, conversation_id, mode: str | None = None, k: int | None = None,
                 generator: str | None = None, tenant: str | None = None, remember: bool = True,
                 use_cache: bool = True) -> _Request:
        text = clean_question(question, self.settings)
        collection = collection or self.settings.default_collection
        owner, version = self._collection(collection)
        if tenant is not None and tenant != owner:
            raise InputError(f"collection {collection!r} does not belong to tenant {tenant!r}")
        mode = check_mode(mode, self.settings)
        k = int(k or self.settings.top_k)
        if not 1 <= k <= 50:
            raise InputError(f"k: {k} is out of range (1 to 50)")
        if conversation_id:
            self.memory.require(conversation_id, collection)
        name = generator or self.settings.generator
        self.generator(name)  # an unknown or unusable generator fails now, with its message, not mid-stream
        return _Request(text, collection, owner, version, conversation_id, mode, k, name, remember, use_cache)

    # --- the pipeline ------------------------------------------------------------------------
    @contextmanager
    def _stage(self, answer: Answer, name: str, **attributes):
        start = time.perf_counter()
        with self.tracer.span(name, **attributes) as span:
            try:
                yield span
            finally:
                answer.stage_ms[name] = round(answer.stage_ms.get(name, 0.0) + (time.perf_counter() - start) * 1000, 3)

    def _run(self, r: _Request, emit: Callable[[str], None] | None) -> Answer:
        started = time.perf_counter()
        answer = r.answer
        generator = self.generator(r.generator_name)
        with self.tracer.request("rag.ask", collection=r.collection, tenant=r.tenant, mode=r.mode, k=r.k,
                                 generator=generator.name) as root:
            answer.trace_id = root.trace_id
            with self._stage(answer, "redact") as span:
                redaction = self.redactor.redact(r.question)
                question = redaction.text
                answer.pii_entities = list(redaction.entities)
                span.set(question=question, pii_found=redaction.found, entities=sorted(set(redaction.entities)))
            root.set(question=question)
            if looks_like_injection(question):
                answer.notices.append(INJECTION_NOTICE)

            conversation_id = r.conversation_id
            if conversation_id is None and r.remember:
                conversation_id = self.memory.start(r.collection, r.tenant, question)
            answer.conversation_id = conversation_id or ""
            with self._stage(answer, "contextualize") as span:
                context = self.memory.contextualize(conversation_id, question, generator if generator.is_llm else None)
                standalone = context.standalone
                answer.standalone_question = standalone
                span.set(rewritten=context.rewritten, method=context.method, history_tokens=context.history_tokens)

            with self._stage(answer, "embed_query"):
                query_vector = self.platform.embedder.encode_query(standalone)

            key = CacheKey(r.collection, r.tenant, r.index_version, self._config_key(r, generator.name))
            hit = None
            with self._stage(answer, "cache_lookup") as span:
                if r.use_cache:
                    hit = self.cache.lookup(standalone, query_vector, key)
                span.set(cache_hit=hit is not None, outcome=hit.outcome if hit else "miss",
                         similarity=hit.similarity if hit else None)
            if r.use_cache and self.cache.enabled:
                self.cache.record(key, hit.outcome if hit else "miss", hit, answer.trace_id)
            if hit is not None:
                answer = self._from_cache(hit.answer, answer, emit)
            else:
                self._answer_fresh(r, answer, standalone, query_vector, context, generator, emit)

            answer.latency_ms = round((time.perf_counter() - started) * 1000, 3)
            if conversation_id:
                _, answer.message_id = self.memory.add_turn(conversation_id, question, standalone, answer)
                self.memory.maybe_summarise(conversation_id, generator if generator.is_llm else None)
            if hit is None and r.use_cache and answer.found and not _fell_back(answer) and not reveals_prompt(answer.text):
                self.cache.put(standalone, query_vector, key, answer)
            top_score, mean_score = _relevance(answer.hits)
            root.set(answer=answer.text, grounded=answer.grounded, no_answer=not answer.found, cache_hit=answer.cached,
                     tokens_in=answer.tokens_in, tokens_out=answer.tokens_out, cost_usd=answer.cost_usd,
                     model=answer.model or answer.generator, generator=answer.generator, answer_chars=len(answer.text),
                     citations=len(answer.citations), fallback=_fallback_notice(answer), pii_hits=len(answer.pii_entities),
                     top_score=top_score, mean_score=mean_score, rewritten=answer.standalone_question != question,
                     conversation=answer.conversation_id or None)
        return answer

    def _from_cache(self, cached: Answer, current: Answer, emit) -> Answer:
        cached.cached = True
        cached.trace_id = current.trace_id
        cached.stage_ms = current.stage_ms
        cached.conversation_id = current.conversation_id
        cached.standalone_question = current.standalone_question
        cached.pii_entities = current.pii_entities
        cached.notices = current.notices + [n for n in cached.notices if n not in current.notices]
        if emit is not None:
            emit(cached.text)
        return cached

    def retrieve(self, question: str, collection: str, mode: str, k: int, query_vector=None, answer: Answer | None = None) -> list[Hit]:
        """Top-k hits with chunks for a (redacted, standalone) question, one span per retriever."""
        answer = answer or Answer(text="")
        settings = self.settings
        index = self.platform.collection_index(collection)
        depth = max(settings.candidate_k, k)
        rankings: dict[str, list[tuple[int, float]]] = {}
        if mode in ("bm25", "hybrid"):
            with self._stage(answer, "bm25", k=depth) as span:
                hits = index.search(question, None, "bm25", depth, depth)
                rankings["bm25"] = [(h.chunk_id, h.scores["bm25"]) for h in hits]
                span.set(results=len(hits), top_score=hits[0].scores["bm25"] if hits else None)
        if mode in ("dense", "hybrid"):
            if query_vector is None:
                query_vector = self.platform.embedder.encode_query(question)
            with self._stage(answer, "dense", k=depth) as span:
                hits = index.search(question, query_vector, "dense", depth, depth)
                rankings["dense"] = [(h.chunk_id, h.scores["dense"]) for h in hits]
                span.set(results=len(hits), top_score=hits[0].scores["dense"] if hits else None)
        rerank = settings.reranker != "none"
        limit = max(k * 4, 20) if rerank else k
        with self._stage(answer, "fuse", fusion=settings.fusion if mode == "hybrid" else mode) as span:
            fused = fuse_rankings(rankings, mode, settings.fusion, rrf_k=settings.rrf_k,
                                  dense_weight=settings.dense_weight, limit=limit)
            chunks = self.platform.chunks_by_ids([h.chunk_id for h in fused])
            # Only chunks of this collection, whatever an index or a race may return.
            fused = [h for h in fused if h.chunk_id in chunks and chunks[h.chunk_id].collection == collection]
            for hit in fused:
                hit.chunk = chunks[hit.chunk_id]
            fused = prefer_current(self.platform.store, fused, settings.superseded_penalty)
            span.set(results=len(fused), top_score=fused[0].fused_score if fused else None,
                     documents=[{"id": h.chunk_id, "score": round(h.fused_score, 5)} for h in fused[:k]])
        if rerank and fused:
            with self._stage(answer, "rerank", reranker=settings.reranker, k=k) as span:
                fused = self._rerank(index, question, fused, k, query_vector)
                span.set(results=len(fused))
        for rank, hit in enumerate(fused[:k], start=1):
            hit.rank = rank
        return fused[:k]

    def _rerank(self, index, question: str, hits: list[Hit], k: int, query_vector) -> list[Hit]:
        from backend.retrieval.rerank import build_reranker

        reranker = build_reranker(self.settings)
        ids = [h.chunk_id for h in hits]
        if getattr(reranker, "needs_vectors", False):
            vectors = index.vectors(ids)
            return reranker.rerank(question, hits, None, k, vectors=vectors, query_vec=query_vector)
        reranked = reranker.rerank(question, hits, {h.chunk_id: h.chunk.text for h in hits}, k)
        by_id = {h.chunk_id: h.chunk for h in hits}
        for hit in reranked:
            hit.chunk = hit.chunk or by_id.get(hit.chunk_id)
        return reranked

    def _answer_fresh(self, r: _Request, answer: Answer, standalone: str, query_vector, context, generator, emit) -> None:
        settings = self.settings
        hits = self.retrieve(standalone, r.collection, r.mode, r.k, query_vector, answer)
        answer.hits = hits
        with self._stage(answer, "compress", compress=settings.compress_context) as span:
            pack = assemble_context(hits, standalone, settings.context_token_budget, compress=settings.compress_context,
                                    scorer=RelevanceScorer(self.encoder))
            span.set(tokens=pack.tokens, tokens_saved=pack.saved_tokens, passages=len(pack.passages))
        request = GenerationRequest(standalone, pack.passages, context.summary, context.history, settings.max_output_tokens)
        gate = _SentenceGate(self.redactor, emit)
        with self._stage(answer, "generate", generator=generator.name) as span:
            stream = generator.stream(request)
            for delta in stream:
                gate.feed(delta)
            gate.close()
            generation: Generation = stream.result
            cost = self._cost(generation)
            span.set(tokens_in=generation.tokens_in, tokens_out=generation.tokens_out, cost_usd=cost,
                     model=generation.model or generation.generator, found=generation.found,
                     fallback=bool(generation.notices), top_score=generation.best_score)
        answer.generator, answer.model = generation.generator, generation.model
        answer.tokens_in, answer.tokens_out, answer.cost_usd = generation.tokens_in, generation.tokens_out, cost
        answer.notices += generation.notices
        answer.found = generation.found
        text = generation.text
        if reveals_prompt(text):
            text, answer.found = REFUSAL, False
            answer.notices.append("The generated answer repeated the assistant's instructions and was withheld.")
        with self._stage(answer, "verify") as span:
            if answer.found:
                verification = self.verifier().verify(text, pack.passages)
                text, answer.citations = verification.text, verification.citations
                answer.notices += verification.notices
            supported = [c for c in answer.citations if c.supported]
            answer.grounded = bool(answer.found and supported and len(supported) == len(answer.citations))
            span.set(citations=len(answer.citations), supported=len(supported), grounded=answer.grounded)
        with self._stage(answer, "redact_answer") as span:
            redaction = self.redactor.redact(text)
            answer.text = redaction.text
            answer.citations = [self._redact_citation(c) for c in answer.citations]
            answer.pii_entities += redaction.entities
            span.set(answer=answer.text, pii_found=redaction.found, grounded=answer.grounded)

    def _redact_citation(self, citation: Citation) -> Citation:
        """Quote and chunk text as the user sees them: redacted, with the quote's offsets inside the redacted chunk."""
        context = citation.context or citation.quote
        quote = self.redactor(citation.quote)
        redacted_context = self.redactor(context)
        start = redacted_context.find(quote)
        if start < 0:  # redaction changed the quote's surroundings: show the quote alone
            redacted_context, start = quote, 0
        citation.quote, citation.context = quote, redacted_context
        citation.quote_start, citation.quote_end = start, start + len(quote)
        return citation

    def _cost(self, generation: Generation) -> float:
        if not generation.priced:
            return 0.0  # the extractive generator spends no tokens on any model
        s = self.settings
        return round(generation.tokens_in * s.llm_price_in_per_m / 1e6 + generation.tokens_out * s.llm_price_out_per_m / 1e6, 8)

    def _config_key(self, r: _Request, generator_name: str) -> str:
        s = self.settings
        return config_key(
            generator=generator_name, mode=r.mode, k=r.k, fusion=s.fusion, rrf_k=s.rrf_k, dense_weight=s.dense_weight,
            reranker=s.reranker, compress=s.compress_context, budget=s.context_token_budget,
            threshold=s.answer_threshold, sentences=s.max_answer_sentences, support=s.citation_support_threshold,
            embedding=s.embedding_model, model=s.openai_model if generator_name == "openai" else s.vllm_model,
            pii=(s.pii_entities, s.pii_action),
        )


def _fell_back(answer: Answer) -> bool:
    return "fallback" in (answer.generator or "")


def _fallback_notice(answer: Answer) -> str | None:
    """The notice saying why the LLM was not used (it names a timeout when there was one), or None."""
    if not _fell_back(answer):
        return None
    return next((n for n in answer.notices if "answered extractively" in n), "fallback")


def _relevance(hits: list[Hit]) -> tuple[float | None, float | None]:
    """Top and mean relevance of the retrieved chunks: dense cosine when dense ran (comparable across
    requests, unlike rank-based fused scores), else the BM25 score."""
    for name in ("dense", "bm25"):
        scores = [h.scores[name] for h in hits if name in h.scores]
        if scores:
            return round(max(scores), 5), round(sum(scores) / len(scores), 5)
    return None, None


def _new_tracer(store, settings: Settings):
    from backend.observability.tracing import Tracer

    return Tracer(store, settings)
