"""The hot path, stage by stage, each a traced span: redact, contextualize, cache, retrieve, fuse, compress, generate, verify, redact."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from backend.agent.step import AgentResult, AgentStep, caller_for
from backend.agent.tool_passages import CITABLE_TOOLS
from backend.chat.cache import AnswerCache, CacheKey
from backend.chat.conversations import ConversationBook, ConversationExport
from backend.chat.memory import ConversationMemory
from backend.chat.questions import INJECTION_NOTICE, REFUSAL, clean_question
from backend.chat.redaction import citation_findings, redact_answer, redact_citation, search_question
from backend.chat.stream import AnswerStream, SentenceGate
from backend.context import SYSTEM, RequestContext
from backend.gateway.identity import Identity
from backend.generation.base import Generation, GenerationRequest
from backend.generation.citations import CitationVerifier
from backend.generation.context import assemble_context
from backend.generation.encoder import RelevanceScorer, SentenceEncoder, shared_encoder
from backend.generation.factory import build_generator
from backend.generation.markers import MarkerNumbering
from backend.generation.prompts import looks_like_injection, reveals_prompt
from backend.models import Answer, Hit, InputError, NotFound
from backend.observability.conventions import REQUEST_SPAN
from backend.pii import get_redactor
from backend.retrieval.retriever import check_mode
from backend.settings import fingerprint


@dataclass
class _Request:
    ctx: RequestContext
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
    history: list[dict] | None = None  # the caller's own transcript (stateless callers); None: the conversation's
    identity: Identity | None = None  # who the gateway says asks (tools run as them); None: made from ctx
    answer: Answer = field(default_factory=lambda: Answer(text=""))
    question_findings: list = field(default_factory=list)  # the redactor's analysis of `question`, reused by search


class ChatService:
    """Answers questions over one platform's corpus through its one retriever; thread-safe, one per platform.

    Built by the Platform (`platform.chat`); a variant configuration is `platform.derive(settings).chat`.
    """

    def __init__(self, platform):
        self.platform = platform
        self.settings = platform.settings
        self.store = platform.store
        self.retriever = platform.retriever
        self.memory = ConversationMemory(self.store, self.settings)
        self.cache = AnswerCache(self.store, self.settings)
        self.redactor = get_redactor(self.settings)
        self._encoder: SentenceEncoder | None = None
        self._lock = threading.Lock()

    # --- parts -------------------------------------------------------------------------------
    @property
    def tracer(self):
        return self.platform.tracer

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

    @cached_property
    def agent(self) -> AgentStep:
        return AgentStep(self.platform)

    # --- entry points ------------------------------------------------------------------------
    def ask(self, question, collection: str | None = None, conversation_id: str | None = None, **options) -> Answer:
        request = self._prepare(question, collection, conversation_id, **options)
        return self._run(request, None)

    def ask_stream(self, question, collection: str | None = None, conversation_id: str | None = None,
                   on_answer: Callable[[Answer], None] | None = None, **options) -> AnswerStream:
        """Validates now (bad input raises InputError here), then streams the answer from a worker thread;
        `on_answer` gets the final Answer in that thread, even when the consumer stops reading early."""
        request = self._prepare(question, collection, conversation_id, **options)
        return AnswerStream(lambda emit: self._run(request, emit), on_answer)

    def warm(self) -> None:
        """Load what the first question would otherwise wait for: the embedder, the PII analyzer, the generator."""
        self.encoder.encode(["warm up the sentence encoder"])
        self.platform.embedder.encode_query("warm up the query encoder")
        self.redactor("warm up the analyzer")
        self.generator()

    def redact(self, text: str) -> str:
        """Text as it may be shown back or stored: the configured PII replaced."""
        return self.redactor(text)

    def feedback(self, message_id: int, score: int, comment: str = "", ctx: RequestContext | None = None) -> dict:
        """Rate an answer (1 up, 0 down; the comment stored redacted), replacing an earlier rating. With `ctx`, only
        an answer in one of the caller's own conversations: any other message does not exist for them."""
        if ctx is not None:
            conversation_id = self.memory.answer_conversation(message_id)
            try:
                if conversation_id is None:
                    raise NotFound("no such answer")
                self._own_conversation(conversation_id, ctx)
            except NotFound:
                raise NotFound(f"unknown message id {message_id}", field="message_id") from None
        comment = self.redactor(comment or "")
        self.memory.record_feedback(message_id, score, comment)
        return {"message_id": message_id, "rating": score, "comment": comment}

    # --- the caller's conversations ----------------------------------------------------------
    def conversations(self, ctx: RequestContext, collection: str | None = None, limit: int = 50,
                      offset: int = 0) -> list[dict]:
        """The caller's own conversations (newest first) in the collections they may read now (Chat's sidebar)."""
        scope = self.platform.corpus.scope(collection, ctx)  # an unreadable collection: NotFound
        return self.memory.list(limit=limit, offset=offset, user=_owner(ctx), collections=scope)

    def conversation(self, conversation_id: str, ctx: RequestContext) -> dict:
        """One of the caller's conversations with its turns and their ratings; anyone else's is NotFound."""
        conversation = self._own_conversation(conversation_id, ctx)
        return {"conversation": conversation, "turns": self.memory.turns(conversation_id),
                "feedback": self.memory.feedback_for(conversation_id)}

    def _own_conversation(self, conversation_id: str, ctx: RequestContext) -> dict:
        return self.book.own(conversation_id, ctx)

    @cached_property
    def book(self) -> ConversationBook:
        """Rename, search, delete and export the caller's own conversations (exports audited as the caller)."""
        return ConversationBook(self.memory, self.platform.corpus, self.platform.gateway.audit, self.redactor)

    def rename_conversation(self, conversation_id: str, title: str, ctx: RequestContext) -> dict:
        return self.book.rename(conversation_id, title, ctx)

    def search_conversations(self, ctx: RequestContext, query: str | None = None, collection: str | None = None,
                             limit: int = 50, offset: int = 0) -> list[dict]:
        return self.book.search(ctx, query, collection, limit, offset)

    def delete_conversation(self, conversation_id: str, ctx: RequestContext) -> dict:
        return self.book.delete(conversation_id, ctx)

    def export_conversation(self, conversation_id: str, fmt: str, ctx: RequestContext) -> ConversationExport:
        return self.book.export(conversation_id, fmt, ctx)

    def retrieve(self, question: str, collection: str, mode: str, k: int, query_vector=None,
                 answer: Answer | None = None, ctx: RequestContext | None = None) -> list[Hit]:
        """Top-k hits with chunks for a (redacted, standalone) question: the one retriever, each stage a span."""
        answer = answer or Answer(text="")
        return self.retriever.search(question, collection, mode, k, ctx=ctx, query_vector=query_vector,
                                     observe=lambda name, **attributes: self._stage(answer, name, **attributes))

    # --- preparation -------------------------------------------------------------------------
    def _prepare(self, question, collection, conversation_id, mode: str | None = None, k: int | None = None,
                 generator: str | None = None, ctx: RequestContext | None = None, tenant: str | None = None,
                 remember: bool = True, use_cache: bool = True, history: list[dict] | None = None,
                 identity: Identity | None = None) -> _Request:
        text = clean_question(question, self.settings)
        if history is not None and conversation_id:
            raise InputError("history: give a conversation id or the earlier messages, not both", field="history")
        if ctx is None:
            ctx = (RequestContext.for_tenant(self.settings, tenant) if tenant is not None
                   else self.platform.corpus.system)
        row = self.platform.corpus.collection_row(collection, ctx)  # another tenant's collection does not exist here
        mode = check_mode(mode, self.settings)
        k = int(k or self.settings.top_k)
        if not 1 <= k <= 50:
            raise InputError(f"k: {k} is out of range (1 to 50)")
        if conversation_id:
            self.memory.require(conversation_id, row["name"], user=ctx.user)
        name = generator or self.settings.generator
        self.generator(name)  # an unknown or unusable generator fails now, with its message, not mid-stream
        if history is not None:
            history = [{"role": m["role"], "content": str(m.get("content") or "")}
                       for m in history if m.get("role") in ("user", "assistant")]
        return _Request(ctx, text, row["name"], row["tenant"], int(row["index_version"]), conversation_id, mode, k,
                        name, remember and history is None, use_cache, history, identity)

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
        answer = r.answer
        generator = self.generator(r.generator_name)
        with self.tracer.request(REQUEST_SPAN, collection=r.collection, tenant=r.tenant, mode=r.mode, k=r.k,
                                 generator=generator.name) as root:
            answer.trace_id = root.trace_id
            with self._stage(answer, "redact") as span:
                redaction = self.redactor.redact(r.question)
                question = redaction.text
                answer.pii_entities, r.question_findings = list(redaction.entities), redaction.findings
                span.set(question=question, pii_found=redaction.found, entities=sorted(set(redaction.entities)))
            root.set(question=question)
            if looks_like_injection(question):
                answer.notices.append(INJECTION_NOTICE)

            conversation_id = r.conversation_id
            if conversation_id is None and r.remember:
                conversation_id = self.memory.start(r.collection, r.tenant, question, user=r.ctx.user)
            answer.conversation_id = conversation_id or ""
            with self._stage(answer, "contextualize") as span:
                llm = generator if generator.is_llm else None
                if r.history is not None:
                    context = self.memory.contextualize_messages(self._redacted_history(r.history), question, llm)
                else:
                    context = self.memory.contextualize(conversation_id, question, llm)
                standalone = context.standalone
                answer.standalone_question = standalone
                span.set(rewritten=context.rewritten, method=context.method, history_tokens=context.history_tokens)

            with self._stage(answer, "embed_query"):
                query_vector = self.platform.embedder.encode_query(standalone)

            key = CacheKey(r.collection, r.tenant, r.index_version, self._config_key(r, generator.name))
            use_cache = r.use_cache and not self.agent.answers_afresh(standalone)
            hit = None
            with self._stage(answer, "cache_lookup") as span:
                if use_cache:
                    hit = self.cache.lookup(standalone, query_vector, key)
                span.set(cache_hit=hit is not None, outcome=hit.outcome if hit else "miss",
                         similarity=hit.similarity if hit else None)
            if use_cache and self.cache.enabled:
                self.cache.record(key, hit.outcome if hit else "miss", hit, answer.trace_id)
            if hit is not None:
                answer = self._from_cache(hit.answer, answer, emit)
            else:
                self._answer_fresh(r, answer, question, standalone, query_vector, context, generator, emit)

            top_score, mean_score = _relevance(answer.hits)
            root.set(answer=answer.text, grounded=answer.grounded, no_answer=not answer.found, cache_hit=answer.cached,
                     tokens_in=answer.tokens_in, tokens_out=answer.tokens_out, cost_usd=answer.cost_usd,
                     model=answer.model or answer.generator, generator=answer.generator, answer_chars=len(answer.text),
                     citations=len(answer.citations), fallback=_fallback_notice(answer), pii_hits=len(answer.pii_entities),
                     top_score=top_score, mean_score=mean_score, rewritten=answer.standalone_question != question,
                     conversation=answer.conversation_id or None)
        # One latency figure, the trace's: the root span has ended, so the turn and the cache store its duration.
        # Storing them is bookkeeping after the answer, outside the span.
        answer.latency_ms = round(root.duration_ms or 0.0, 3)
        if conversation_id:
            _, answer.message_id = self.memory.add_turn(conversation_id, question, standalone, answer)
            self.memory.maybe_summarise(conversation_id, generator if generator.is_llm else None)
        if hit is None and use_cache and answer.found and not _fell_back(answer) and not reveals_prompt(answer.text) \
                and all(call["outcome"] == "ok" for call in answer.tool_calls) \
                and not any(call["tool"] in CITABLE_TOOLS for call in answer.tool_calls):
            # A refused call may run next time; a document tool may have read beyond this collection's grants.
            self.cache.put(standalone, query_vector, key, answer)
        return answer

    def _redacted_history(self, history: list[dict]) -> list[dict]:
        """The newest turns of a caller's transcript that memory could keep, redacted as stored turns are."""
        recent = history[-2 * self.settings.memory_turns:]
        return [{"role": m["role"], "content": self.redactor(m["content"])} for m in recent]

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

    def _answer_fresh(self, r: _Request, answer: Answer, question: str, standalone: str, query_vector, context, generator,
                      emit) -> None:
        settings, search = self.settings, search_question(self.redactor, r.question, question, standalone,
                                                          answer.pii_entities, r.question_findings)
        if search != standalone:
            with self._stage(answer, "embed_query"):
                query_vector = self.platform.embedder.encode_query(search)
        hits = self.retrieve(search, r.collection, r.mode, r.k, query_vector, answer, r.ctx)
        answer.hits = hits
        with self._stage(answer, "compress", compress=settings.compress_context) as span:
            pack = assemble_context(hits, search, settings.context_token_budget, compress=settings.compress_context,
                                    scorer=RelevanceScorer(self.encoder))
            span.set(tokens=pack.tokens, tokens_saved=pack.saved_tokens, passages=len(pack.passages))
        request = GenerationRequest(standalone if generator.is_llm else search, pack.passages, context.summary,
                                    context.history, settings.max_output_tokens)
        agent = self._agent_step(r, answer, question, standalone, pack.passages, generator, context.history)
        request.tool_results = agent.tool_context
        passages = request.passages = agent.context(pack.passages)  # the document tools' chunks are citable too
        if agent.focus_question and not generator.is_llm:  # sentences scored against what is asked of the section
            request.question = agent.focus_question
        gate = SentenceGate(lambda sentence: redact_answer(self.redactor, sentence).text, emit,
                            MarkerNumbering.for_passages(passages))
        if agent.statement:
            gate.feed(agent.statement + " ")
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
        # Numbered afresh by first use in the text the answer keeps: the same numbers the stream showed, as the
        # stream was this text (unless an LLM failed mid-answer and the fallback's answer replaced its start).
        numbering = MarkerNumbering.for_passages(passages)
        lead = numbering.apply(agent.statement or "")  # first in the text, so its passage is numbered first
        text = numbering.apply(text)
        with self._stage(answer, "verify") as span:
            if answer.found:
                verification = self.verifier().verify(text, numbering.passages(passages))
                text, answer.citations = verification.text, verification.citations
                answer.notices += numbering.notices() + verification.notices
            if lead and text != REFUSAL:
                text = agent.put_first(answer, lead, text, numbering.passages(passages), self.verifier())
            supported = [c for c in answer.citations if c.supported]
            answer.grounded = bool(answer.found and supported and len(supported) == len(answer.citations))
            span.set(citations=len(answer.citations), supported=len(supported), grounded=answer.grounded,
                     tool_citations=agent.tool_citations(answer.citations))
        with self._stage(answer, "redact_answer") as span:
            redaction = redact_answer(self.redactor, text)
            answer.text = redaction.text
            # From what ingest recorded of each cited chunk: NER on every citation was most of this stage
            stored = citation_findings(self.platform.store, self.settings.data_dir,
                                       [c.chunk_id for c in answer.citations]) if answer.citations else {}
            answer.citations = [redact_citation(self.redactor, c, stored.get(c.chunk_id)) for c in answer.citations]
            answer.pii_entities += redaction.entities
            span.set(answer=answer.text, pii_found=redaction.found, grounded=answer.grounded)

    def _agent_step(self, r: _Request, answer: Answer, asked: str, question: str, passages, generator,
                    history) -> AgentResult:
        """Tool calls the rules justify, as the request's caller; listed on the answer whatever their outcome."""
        result = self.agent.run(question, passages, caller_for(r.identity, r.ctx, r.collection), generator,
                                history=history, asked=asked, conversation_id=answer.conversation_id or None,
                                observe=lambda name, **attributes: self._stage(answer, name, **attributes))
        answer.tool_calls = [call.to_dict() for call in result.tool_calls]
        answer.notices += result.notices
        return result

    def _cost(self, generation: Generation) -> float:
        if not generation.priced:
            return 0.0  # the extractive generator spends no tokens on any model
        s = self.settings
        return round(generation.tokens_in * s.llm_price_in_per_m / 1e6 + generation.tokens_out * s.llm_price_out_per_m / 1e6, 8)

    def _config_key(self, r: _Request, generator_name: str) -> str:
        # Every setting marked as shaping an answer counts, so a new one can never be left out of the key.
        return fingerprint(self.settings, retrieval_mode=r.mode, top_k=r.k, generator=generator_name)


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


def _owner(ctx: RequestContext) -> str | None:
    """Whose conversations a caller lists: their own; the system caller (the CLI on the local file) everyone's."""
    return None if ctx.user == SYSTEM else ctx.user
