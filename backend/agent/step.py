"""The hot path's agent step: the planner's tool calls through the guarded executor, their result the answer's first statement."""
from __future__ import annotations

import logging
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Sequence

from backend.agent.planner import DATE_SHIFT, FEE_TOTAL, HAND_OVER, TABLE_ROW, PlannedCall, cells_of, money, plan, wants_tools
from backend.agent.sections import READ_SECTION, SECTION_READ, section_question
from backend.agent.tool_loop import offered_tools, run_tool_loop, tool_results_block
from backend.agent.tool_passages import ToolSource, cited_from_tools, numbers_by_call, tool_passages
from backend.context import RequestContext
from backend.gateway.identity import Identity
from backend.generation.base import Passage
from backend.generation.citations import UNSUPPORTED_SUFFIX, CitationVerifier
from backend.generation.prompts import answer_messages
from backend.models import Answer, Citation
from backend.tools.spec import NEEDS_APPROVAL, OK, ToolCall, ToolCaller

logger = logging.getLogger(__name__)

AGENT_STAGE = "agent"
FAILED_NOTICE = "The tool step failed, so this answer was made without tools."
_MARKER = re.compile(r"\[(\d{1,3})\]")


def caller_for(identity: Identity | None, ctx: RequestContext, collection: str | None = None) -> ToolCaller:
    """The caller a request's tools run as: the identity the gateway resolved, else one made from the context alone
    (the CLI, evaluation): a session-like identity of the context's user, role and tenant, holding no API key."""
    identity = identity or Identity(user=ctx.user, tenant=ctx.tenant, role=ctx.role)
    return ToolCaller(identity=identity, ctx=ctx, collection=collection)


@dataclass
class AgentResult:
    """What the step did: every call made (refused ones too), and the statement to put first in the answer."""

    tool_calls: list[ToolCall] = field(default_factory=list)
    statement: str | None = None  # its [n] markers are context passage numbers, renumbered like the generator's
    cited_passage: int | None = None  # the passage the statement's figure came from
    claim: str = ""  # what that passage must support: the figure used, not the total computed from it
    quote: str = ""  # the sentence or table row of that passage the figure was read from
    complete: bool = False  # the statement answers the question alone (a date computed from the question's own)
    notices: list[str] = field(default_factory=list)
    tool_context: str = ""  # a model's tool results, for the generator's prompt (GenerationRequest.tool_results)
    passages: list[Passage] = field(default_factory=list)  # the document tools' chunks, citable like retrieved ones
    sources: list[ToolSource] = field(default_factory=list)  # which call each of those passages came from
    focus: bool = False  # the question named a section: the answer comes from it alone
    focus_question: str = ""  # what is asked of that section, for an extractive generator's scoring

    def context(self, passages: Sequence[Passage]) -> list[Passage]:
        """The passages the generator answers from and the verifier checks against: the retrieved ones and the
        tools' after them; only the tools' when the question asked for a section that was read."""
        every = [*passages, *self.passages]
        if self.focus:
            section = {s.chunk_id for s in self.sources if s.tool == READ_SECTION}
            return [p for p in every if p.chunk.id in section] or every
        return every

    def tool_citations(self, citations: Sequence[Citation]) -> list[dict[str, Any]]:
        """For the trace: the citations that rest on a tool's passage, each with the call it came from."""
        return cited_from_tools(citations, self.sources)

    def put_first(self, answer: Answer, lead: str, text: str, passages: Sequence[Passage],
                  verifier: CitationVerifier) -> str:
        """The answer's text with the (renumbered) statement `lead` first, its citation checked by the verifier against
        the claim it rests on and put first in `answer.citations`. A supported figure (or a date computed from the
        question alone) answers it even when the generator found nothing; a hand-over leaves the generator's text."""
        citation = self._citation(lead, passages, verifier)
        if citation is not None:
            if not citation.supported:
                lead = lead.replace(f"[{citation.marker}]", f"[{citation.marker}{UNSUPPORTED_SUFFIX}]")
                answer.notices.append(f"Citation [{citation.marker}{UNSUPPORTED_SUFFIX}] of the computed figure is "
                                      "not supported by the passage it cites; do not rely on it.")
            answer.citations = [citation] + [c for c in answer.citations
                                             if (c.marker, c.quote_start) != (citation.marker, citation.quote_start)]
        if not answer.found and (self.complete or (citation is not None and citation.supported)):
            answer.found = True
            return lead
        return f"{lead} {text}".strip()

    def _citation(self, lead: str, passages: Sequence[Passage], verifier: CitationVerifier) -> Citation | None:
        markers = [int(n) for n in _MARKER.findall(lead)]
        by_number = {p.number: p for p in passages}
        if not markers or markers[0] not in by_number or not self.claim:
            return None
        chunk = by_number[markers[0]].chunk
        start = chunk.text.find(self.quote) if self.quote else -1
        if start >= 0:  # the very sentence the figure came from, scored as the verifier scores any claim's quote
            end = start + len(self.quote)
            score = float(verifier.support(self.claim, [self.quote])[0])
        else:
            score, start, end = verifier.best_quote(self.claim, chunk.text)
        return Citation(marker=markers[0], chunk_id=chunk.id, document_id=chunk.document_id, title=chunk.title,
                        quote=chunk.text[start:end], score=round(score, 3), supported=score >= verifier.threshold,
                        page=chunk.page, heading_path=tuple(chunk.heading_path or ()), quote_start=start,
                        quote_end=end, context=chunk.text)


Observe = Callable[..., AbstractContextManager]


class AgentStep:
    """Runs between compress and generate; the rules of backend.agent.planner decide what to call, no model is asked.
    Never raises: a failure is logged and noticed, and the answer is made without tools."""

    def __init__(self, platform):  # backend.platform.Platform (not imported: it imports chat, which imports this)
        self.platform = platform

    def answers_afresh(self, question: str) -> bool:
        """A question that may lead to a tool call skips the answer cache: its near twin may be for another count."""
        return self.platform.settings.agent_enabled and wants_tools(question)

    def run(self, question: str, passages: Sequence[Passage], caller: ToolCaller, generator: Any = None, *,
            history: Sequence[dict] = (), asked: str | None = None, conversation_id: str | None = None,
            observe: Observe | None = None) -> AgentResult:
        """The planned calls for this (redacted, standalone) question, made as `caller` under one answer's budget.
        `asked` is the user's own (redacted) words, when a follow-up was rewritten: only they may ask for a write.
        `generator` is the answer's generator: the rules need no model; when they plan nothing, an LLM generator's
        model may call tools itself (settings.agent_model_tools)."""
        if not self.platform.settings.agent_enabled:
            return AgentResult()
        try:
            planned = plan(question, passages, history, asked=asked)
        except Exception:  # a rule's bug must never cost the user the answer
            logger.exception("agent planner failed")
            return AgentResult(notices=[FAILED_NOTICE])
        stage = observe or (lambda name, **attributes: self.platform.tracer.span(name, **attributes))
        if not planned:
            return self._model_tools(question, passages, caller, generator, history, asked, stage)
        with stage(AGENT_STAGE, planner="rules", planned=[p.tool for p in planned]) as span:
            try:
                result = self._run(planned, passages, caller, conversation_id)
                self._cite_tools(result, passages, caller)
                section = next((p for p in planned if p.intent == SECTION_READ), None)
                if section is not None and result.sources:
                    result.focus = True
                    result.focus_question = section_question(question, section.arguments["heading"])
            except Exception:
                logger.exception("agent step failed")
                result = AgentResult(notices=[FAILED_NOTICE])
            span.set(tool_calls=len(result.tool_calls), outcomes=[c.outcome for c in result.tool_calls],
                     statement=result.statement, cited_passage=result.cited_passage,
                     tool_passages=[s.as_dict() for s in result.sources])
        return result

    def _model_tools(self, question: str, passages: Sequence[Passage], caller: ToolCaller, generator: Any,
                     history: Sequence[dict], asked: str | None, stage: Observe) -> AgentResult:
        """With `agent_model_tools` and an LLM server's generator, the model may call the caller's tools (a write
        one only when the user's own words ask for it) in rounds under one budget; their results go to its prompt."""
        client = getattr(generator, "client", None)
        if not self.platform.settings.agent_model_tools or not getattr(generator, "is_llm", False) or client is None:
            return AgentResult()
        tools = self.platform.tools
        offered = offered_tools(tools.registry, caller, asked or question)
        with stage(AGENT_STAGE, planner="model", offered=[t.name for t in offered]) as span:
            try:
                messages = answer_messages(question, passages, history=list(history))
                loop = run_tool_loop(client, generator.model(), messages, offered, tools, caller, tools.budget())
                result = AgentResult(tool_calls=loop.calls)
                self._cite_tools(result, passages, caller)
                result.tool_context = tool_results_block(loop.calls, numbers_by_call(result.sources))
            except Exception:  # the model's server, or a bug: the answer is made without tools
                logger.exception("model tool step failed")
                result = AgentResult(notices=[FAILED_NOTICE])
            span.set(tool_calls=len(result.tool_calls), outcomes=[c.outcome for c in result.tool_calls],
                     tool_passages=[s.as_dict() for s in result.sources])
        return result

    def _cite_tools(self, result: AgentResult, passages: Sequence[Passage], caller: ToolCaller) -> None:
        result.passages, result.sources = tool_passages(self.platform, result.tool_calls, caller, passages)

    def _document_titled(self, title: str, caller: ToolCaller) -> int | None:
        """The one document the caller can read whose title is `title` (ignoring case), else None."""
        wanted = " ".join(title.split()).casefold()
        rows = self.platform.corpus.documents(title_contains=title, ctx=caller.ctx, limit=50)
        ids = {row["id"] for row in rows if " ".join(str(row["title"]).split()).casefold() == wanted}
        return ids.pop() if len(ids) == 1 else None

    def _run(self, planned: list[PlannedCall], passages: Sequence[Passage], caller: ToolCaller,
             conversation_id: str | None) -> AgentResult:
        tools = self.platform.tools
        budget = tools.budget()
        result = AgentResult()
        statements: list[str] = []
        for step in planned:
            arguments = dict(step.arguments)
            if step.intent == HAND_OVER and conversation_id:
                arguments["conversation_id"] = conversation_id
            if step.intent == SECTION_READ and "document_id" not in arguments:
                document_id = self._document_titled(step.details["title"], caller)
                if document_id is None:
                    result.notices.append(f"No document titled {step.details['title']!r} among those you can read, "
                                          "so its section was not read.")
                    continue
                arguments["document_id"] = document_id
            call = tools.call(step.tool, arguments, caller, budget)
            result.tool_calls.append(call)
            statement = self._statement(step, call, passages, result)
            if statement:
                statements.append(statement)
            elif call.outcome not in (OK, NEEDS_APPROVAL):
                result.notices.append(f"Tool {call.tool} did not run ({call.outcome}): {call.message}")
        result.statement = " ".join(statements) or None
        return result

    def _statement(self, step: PlannedCall, call: ToolCall, passages: Sequence[Passage],
                   result: AgentResult) -> str | None:
        if step.intent == HAND_OVER:
            return _hand_over(step, call)
        if not call.ok:
            return None
        if step.intent == FEE_TOTAL and step.figure is not None:
            total = _decimal(call.data.get("value"))
            if total is None:
                return None
            figure = step.figure
            result.cited_passage, result.claim = figure.passage, f"{step.item} cost {figure.shown()}"
            result.quote = figure.sentence
            verb = "costs" if step.count == 1 else "cost"
            return (f"{_capitalised(step.quantity)} {verb} {money(total, figure.symbol)} "
                    f"({step.count} × {figure.shown()} [{figure.passage}]).")
        if step.intent == DATE_SHIFT and call.data.get("kind") == "date":
            result.complete = True
            return f"{_capitalised(step.quantity)} is {call.data['value']}."
        if step.intent == TABLE_ROW:
            return self._row_statement(step, call, passages, result)
        return None

    @staticmethod
    def _row_statement(step: PlannedCall, call: ToolCall, passages: Sequence[Passage], result: AgentResult) -> str | None:
        rows = call.data.get("rows") or []
        if call.data.get("matched") != 1 or len(rows) != 1:
            return None  # no row, or several: the lookup did not single one out
        where = step.details["where"]
        named = ", ".join(str(v) for v in where.values())
        rest = "; ".join(f"{column} {value}" for column, value in rows[0].items() if column not in where and value)
        holder = next((p for p in passages if p.chunk.id in call.chunk_ids), None)
        claim = f"{named}: {rest}"
        if holder is None:
            return f"In {step.details['title']}, {claim}."
        values = {str(v).casefold() for v in rows[0].values() if v}
        line = next((line for line in holder.chunk.text.split("\n")  # the row as the chunk renders it
                     if values <= {v.casefold() for v in cells_of(line).values()}), "")
        result.cited_passage, result.claim, result.quote = holder.number, claim, line.strip()
        return f"In {step.details['title']}, {claim} [{holder.number}]."


def _hand_over(step: PlannedCall, call: ToolCall) -> str | None:
    title = step.arguments["title"]
    if call.outcome == NEEDS_APPROVAL:
        return f"I can hand this over to a person: a ticket “{title}” is ready, and it is opened once you approve it."
    if call.ok:
        return f"{call.result}."
    return None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
