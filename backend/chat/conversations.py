"""The caller's own conversations managed: renamed, searched by title and text, deleted whole, exported with citations."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from backend.chat.memory import ConversationMemory, Turn
from backend.context import SYSTEM, RequestContext
from backend.models import Answer, InputError, NotFound

TITLE_MAX = 120  # what the first question is cut to when it becomes the title
QUERY_MAX = 200
EXPORT_FORMATS = {"markdown": ("text/markdown", "md"), "json": ("application/json", "json")}
Audit = Callable[[str, str, str, dict], None]  # (actor, action, target, details): the gateway's audit log


@dataclass(frozen=True)
class ConversationExport:
    """One exported file: its bytes, what they are, and the name a download should get."""

    data: bytes
    mime: str
    file_name: str
    turns: int


def check_title(title) -> str:
    """The title as it will be stored before redaction: not blank, at most TITLE_MAX characters."""
    if not isinstance(title, str) or not title.strip():
        raise InputError("title: give the conversation a name (it is blank)", field="title")
    text = " ".join(title.split())  # one line: a title is a list label, never a paragraph
    if len(text) > TITLE_MAX:
        raise InputError(f"title: {len(text)} characters, over the limit of {TITLE_MAX}", field="title")
    return text


def check_query(query: str | None) -> str | None:
    """The search text, or None for no filter (blank)."""
    text = " ".join((query or "").split())
    if len(text) > QUERY_MAX:
        raise InputError(f"q: {len(text)} characters, over the limit of {QUERY_MAX}", field="q")
    return text or None


class ConversationBook:
    """Rename, search, delete and export: each only over the caller's own conversations in collections they may read
    now (the system caller, the CLI on the local file, over everyone's)."""

    def __init__(self, memory: ConversationMemory, corpus, audit: Audit, redact: Callable[[str], str]):
        self.memory = memory
        self.corpus = corpus
        self.audit = audit
        self.redact = redact

    def own(self, conversation_id: str, ctx: RequestContext) -> dict:
        """The conversation if it is the caller's and its collection readable; else NotFound, as for an unknown id."""
        conversation = self.memory.require(conversation_id, user=ctx.user)
        if not self.corpus.has_collection(conversation["collection"], ctx):  # a grant since revoked
            raise NotFound(f"session {conversation_id!r} does not exist", field="conversation_id")
        return conversation

    def summary(self, conversation_id: str, ctx: RequestContext) -> dict:
        """The caller's conversation as the list shows it (with its turn count)."""
        conversation = self.own(conversation_id, ctx)
        return {**conversation, "turns": len(self.memory.turns(conversation_id))}

    def rename(self, conversation_id: str, title: str, ctx: RequestContext) -> dict:
        """A new title (checked, then redacted as every stored text is); returns the updated summary."""
        text = check_title(title)
        self.own(conversation_id, ctx)
        self.memory.rename(conversation_id, self.redact(text)[:TITLE_MAX])
        return self.summary(conversation_id, ctx)

    def search(self, ctx: RequestContext, query: str | None = None, collection: str | None = None, limit: int = 50,
               offset: int = 0) -> list[dict]:
        """The caller's conversations whose title, questions or answers hold `query` (any case), newest first; a
        blank query lists them all. `collection` narrows to one readable collection (an unreadable one: NotFound)."""
        needle = check_query(query)
        scope = self.corpus.scope(collection, ctx)
        return self.memory.list(limit=limit, offset=offset, user=None if ctx.user == SYSTEM else ctx.user,
                                collections=scope, contains=needle)

    def delete(self, conversation_id: str, ctx: RequestContext) -> dict:
        """The conversation with its messages and their ratings, in one transaction; returns what went."""
        return self._delete(self.own(conversation_id, ctx))

    def expire(self, conversation_id: str) -> dict | None:
        """A conversation past its retention, deleted as `delete` does (None if already gone). For the retention job,
        which acts for no caller: the owner may be anyone and the collection deleted since."""
        conversation = self.memory.get(conversation_id)
        return None if conversation is None else self._delete(conversation)

    def _delete(self, conversation: dict) -> dict:
        removed = self.memory.delete(conversation["id"])
        return {"id": conversation["id"], "collection": conversation["collection"], "title": conversation["title"],
                **removed}

    def export(self, conversation_id: str, fmt: str, ctx: RequestContext) -> ConversationExport:
        """The conversation as Markdown or JSON, each answer with its citations; every file built is audited."""
        if fmt not in EXPORT_FORMATS:
            raise InputError(f"format: {fmt!r} is not an export format (markdown or json)", field="format")
        conversation = self.own(conversation_id, ctx)
        record = conversation_record(conversation, self.memory.turns(conversation_id),
                                     self.memory.feedback_for(conversation_id))
        if fmt == "json":
            data = json.dumps(record, ensure_ascii=False, indent=2, default=_iso).encode("utf-8")
        else:
            data = conversation_markdown(record).encode("utf-8")
        mime, _ = EXPORT_FORMATS[fmt]
        self.audit(ctx.user, "export.conversation", conversation_id,
                   {"kind": "conversation", "collection": conversation["collection"], "tenant": ctx.tenant,
                    "format": fmt, "turns": len(record["turns"])})
        return ConversationExport(data, mime, export_file_name(conversation["title"], conversation_id, fmt),
                                  len(record["turns"]))


def export_file_name(title: str, conversation_id: str, fmt: str) -> str:
    """A download's name: the title as a slug (ASCII, safe in a header) and the id's first 8 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", (title or "").lower()).strip("-")[:48].rstrip("-") or "conversation"
    return f"{slug}-{conversation_id[:8]}.{EXPORT_FORMATS[fmt][1]}"


def conversation_record(conversation: dict, turns: list[Turn], ratings: dict[int, dict]) -> dict:
    """What an export holds: the conversation and each turn's question and answer, the answer's citations (marker,
    title, page, quote) and the caller's rating. All text as stored: PII redacted."""
    out = []
    for turn in turns:
        answer = Answer.from_dict({**turn.answer_data, "text": turn.answer}) if turn.message_id is not None else None
        rating = ratings.get(turn.message_id) if turn.message_id is not None else None
        out.append({
            "turn": turn.turn, "question": turn.question,
            "searched_as": turn.standalone if turn.standalone != turn.question else None,
            "answer": answer.text if answer else None,
            "found": answer.found if answer else None, "grounded": answer.grounded if answer else None,
            "trace_id": (answer.trace_id or None) if answer else None,
            "citations": [{"marker": c.marker, "title": c.title, "document_id": c.document_id, "chunk_id": c.chunk_id,
                           "page": c.page, "heading_path": list(c.heading_path), "quote": c.quote,
                           "support": round(c.score, 3), "supported": c.supported}
                          for c in (answer.citations if answer else [])],
            "feedback": {"rating": rating["score"], "comment": rating["comment"]} if rating else None,
        })
    return {"id": conversation["id"], "title": conversation["title"], "collection": conversation["collection"],
            "tenant": conversation["tenant"], "created_at": conversation["created_at"],
            "updated_at": conversation["updated_at"], "exported_at": datetime.now(timezone.utc), "turns": out}


def conversation_markdown(record: dict) -> str:
    """The record as a Markdown document: a section per turn, the answer, then its sources with their quotes."""
    lines = [f"# {_one_line(record['title']) or 'Untitled conversation'}", "",
             f"Collection **{record['collection']}** · started {_when(record['created_at'])} · "
             f"exported {_when(record['exported_at'])} · {len(record['turns'])} turn"
             f"{'s' if len(record['turns']) != 1 else ''}", ""]
    for turn in record["turns"]:
        lines += [f"## {turn['turn']}. {_one_line(turn['question'])}", ""]
        if turn["searched_as"]:
            lines += [f"*Searched as: {_one_line(turn['searched_as'])}*", ""]
        lines += [turn["answer"] or "*(no answer stored)*", ""]
        if turn["citations"]:
            lines += ["**Sources**", ""]
            for c in turn["citations"]:
                where = " › ".join(c["heading_path"])
                page = f", page {c['page']}" if c["page"] is not None else ""
                lines.append(f"- [{c['marker']}] {_one_line(c['title'])}{page}" + (f" ({where})" if where else "")
                             + f" · support {c['support']:.2f}")
                lines.append(f"  > {_one_line(c['quote'])}")
            lines.append("")
        if turn["trace_id"]:
            lines += [f"Trace `{turn['trace_id']}`", ""]
    return "\n".join(lines).rstrip() + "\n"


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _when(value) -> str:
    return _iso(value).replace("T", " ")[:16] + " UTC" if value else "-"


def _iso(value):
    if isinstance(value, datetime):  # stored timestamps are naive UTC
        return (value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
