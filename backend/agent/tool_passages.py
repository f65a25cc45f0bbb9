"""Tool results as citable passages: the chunks search_documents and read_document_section returned, numbered after the context's."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

from backend.generation.base import Passage
from backend.models import Citation
from backend.tools.spec import ToolCall, ToolCaller

CITABLE_TOOLS = frozenset({"search_documents", "read_document_section"})
MAX_TOOL_PASSAGES = 12  # bounds the prompt: search's k is at most 10, a section is a few chunks


@dataclass(frozen=True)
class ToolSource:
    """Where a tool passage came from, for the trace: the call (and the model's id for it) and the chunk."""

    passage: int
    tool: str
    call_index: int  # the call's place in the answer's tool calls
    call_id: str
    chunk_id: int
    document_id: int
    page: int | None
    retrieved: bool = False  # the chunk was in the context already: the passage is retrieval's, the tool's too

    def as_dict(self) -> dict[str, Any]:
        return {"passage": self.passage, "tool": self.tool, "call_index": self.call_index, "call_id": self.call_id,
                "chunk_id": self.chunk_id, "document_id": self.document_id, "page": self.page,
                "retrieved": self.retrieved}


def tool_passages(platform: Any, calls: Sequence[ToolCall], caller: ToolCaller, passages: Sequence[Passage],
                  redact: Any = None) -> tuple[list[Passage], list[ToolSource]]:
    """The chunks the document tools' successful calls quote, as passages numbered after `passages`, their text
    redacted as tool results are. Each chunk is read again in the caller's scope: one outside the caller's grants
    never becomes a passage, whatever a call claimed. A chunk already in the context is not repeated."""
    wanted: list[tuple[int, ToolCall, int]] = []
    in_context = {p.chunk.id: p for p in passages}
    seen: set[int] = set()
    sources: list[ToolSource] = []
    for index, call in enumerate(calls):
        if call.ok and call.tool in CITABLE_TOOLS:
            for chunk_id in call.chunk_ids:
                known = in_context.get(chunk_id)
                if known is not None:  # retrieved for this caller already: the tool points at that passage
                    sources.append(ToolSource(known.number, call.tool, index, call.call_id, chunk_id,
                                              known.chunk.document_id, known.chunk.page, retrieved=True))
                elif chunk_id not in seen and len(wanted) < MAX_TOOL_PASSAGES:
                    seen.add(chunk_id)
                    wanted.append((index, call, chunk_id))
    if not wanted:
        return [], sources
    readable = platform.corpus.chunks_by_ids([chunk_id for _, _, chunk_id in wanted], caller.ctx)
    if redact is None:
        from backend.pii import get_redactor  # the executor's redactor: cached, loaded once tools are used

        redact = get_redactor(platform.settings)
    number = max((p.number for p in passages), default=0)
    out: list[Passage] = []
    for index, call, chunk_id in wanted:
        chunk = readable.get(chunk_id)
        if chunk is None:
            continue
        number += 1
        # The redacted text is both what the generator reads and what citations quote and point into.
        chunk = replace(chunk, text=redact(chunk.text) if chunk.text else chunk.text)
        out.append(Passage(number=number, chunk=chunk, text=chunk.text, tokens=chunk.token_count))
        sources.append(ToolSource(number, call.tool, index, call.call_id, chunk.id, chunk.document_id, chunk.page))
    return out, sources


def numbers_by_call(sources: Sequence[ToolSource]) -> dict[int, list[int]]:
    """The passage numbers each call (by its index in `calls`) became, for the prompt's tool results block."""
    out: dict[int, list[int]] = {}
    for source in sources:
        out.setdefault(source.call_index, []).append(source.passage)
    return out


def cited_from_tools(citations: Sequence[Citation], sources: Sequence[ToolSource]) -> list[dict[str, Any]]:
    """Which of an answer's citations rest on a tool's passage: marker, chunk, and the call that returned it."""
    by_chunk = {s.chunk_id: s for s in reversed(sources)}  # the first call that returned a chunk
    return [{"marker": c.marker, **by_chunk[c.chunk_id].as_dict()} for c in citations if c.chunk_id in by_chunk]
