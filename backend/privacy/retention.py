"""Retention: documents past their collection's days, conversations past theirs, traces rolled up; one job, a dry run."""
from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backend.chat.conversations import ConversationBook
from backend.chat.memory import ConversationMemory
from backend.clock import utc_now
from backend.context import RequestContext
from backend.models import Conflict, Forbidden
from backend.observability.retention import apply_retention, pending_rollup, retention_cutoff
from backend.settings import Settings
from backend.store import retention as retention_store

logger = logging.getLogger(__name__)

ACTOR = "retention"  # the job's deletes are audited as this user
TRIGGERS = ("job", "cli", "admin")
CLOSE_WAIT_S = 60.0
EVERY_S = 3600.0  # a round an hour: retention periods are whole days
FIRST_AFTER_S = 60.0  # the first round a minute after the server starts, once its pages and models are up


def retention_context(settings: Settings) -> RequestContext:
    """Who the background job acts as: every tenant, allowed to change every collection, audited as `retention`."""
    return RequestContext(settings=settings, user=ACTOR, tenant=settings.default_tenant, role="admin")


@dataclass
class CollectionRetention:
    """One collection's documents past its retention: listed by a dry run, deleted otherwise."""

    name: str
    tenant: str
    retention_days: int | None  # None: kept for ever
    cutoff: datetime | None = None
    # id, title, last_ingested_at, age_days; an e-mail's attachment (which goes with its mail) also attachment_of
    documents: list[dict] = field(default_factory=list)
    deleted: int = 0
    chunks: int = 0
    cache_entries: int = 0  # cached answers built on the index before the deletes (never served again)
    error: str | None = None


@dataclass
class ConversationRetention:
    """Conversations whose last message is past GROUNDWORK_CONVERSATION_RETENTION_DAYS."""

    retention_days: int  # 0: kept for ever
    cutoff: datetime | None = None
    tenants: list[dict] = field(default_factory=list)  # tenant, conversations, oldest (last message of the oldest)
    deleted: int = 0
    messages: int = 0
    feedback: int = 0
    cache_entries: int = 0
    error: str | None = None


@dataclass
class TraceRetention:
    """Whole days of traces past GROUNDWORK_TRACE_RETENTION_DAYS, rolled up into trace_daily and span_daily."""

    retention_days: int
    cutoff: datetime
    days: int = 0
    traces: int = 0
    spans: int = 0
    error: str | None = None


@dataclass
class RetentionReport:
    """What a run would delete (dry_run) or deleted. `conversations` and `traces` are None when out of its scope
    (a run for one collection leaves traces alone; a run confined to tenants cannot roll up everyone's days)."""

    now: datetime
    dry_run: bool
    collections: list[CollectionRetention] = field(default_factory=list)
    conversations: ConversationRetention | None = None
    traces: TraceRetention | None = None

    @property
    def failures(self) -> list[str]:
        """`collection <name>: <error>`, `conversations: <error>`, `traces: <error>` for each part that failed."""
        out = [f"collection {c.name}: {c.error}" for c in self.collections if c.error]
        for name, part in (("conversations", self.conversations), ("traces", self.traces)):
            if part is not None and part.error:
                out.append(f"{name}: {part.error}")
        return out

    def counts(self) -> dict[str, Any]:
        """What went, as numbers only (the audit row of an applied run never names a document or a person)."""
        conv, traces = self.conversations, self.traces
        return {
            "documents": sum(c.deleted for c in self.collections),
            "chunks": sum(c.chunks for c in self.collections),
            "collections": {c.name: c.deleted for c in self.collections if c.deleted},
            "conversations": conv.deleted if conv else 0, "messages": conv.messages if conv else 0,
            "feedback": conv.feedback if conv else 0,
            "cache_entries": sum(c.cache_entries for c in self.collections) + (conv.cache_entries if conv else 0),
            "traces": traces.traces if traces else 0, "spans": traces.spans if traces else 0,
            "days_rolled_up": traces.days if traces else 0,
            "failed": [f.split(":", 1)[0] for f in self.failures],
        }

    @property
    def changed(self) -> bool:
        counts = self.counts()
        return any(counts[k] for k in ("documents", "conversations", "cache_entries", "traces", "spans"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"failures": self.failures}


def apply_retention_policies(platform, now: datetime | None = None, dry_run: bool = False,
                             collection: str | None = None, ctx: RequestContext | None = None,
                             stop: threading.Event | None = None, trigger: str = "job") -> RetentionReport:
    """Every retention policy once: each collection's (on its own, so one failing leaves the others to run), the
    conversations', the traces'. `dry_run` lists what would go and changes nothing. `collection` narrows the run to
    that collection's documents and conversations. `ctx` (default: the job's own) must be one that changes the
    corpus; a run that deleted anything, failed, or was asked for by a person is audited as it, with counts only."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown retention trigger {trigger!r}")
    ctx = ctx or retention_context(platform.settings)
    if not ctx.may_change():
        raise Forbidden(f"the role {ctx.role} may not preview or apply retention (needs: operator or admin)")
    now = now or utc_now()
    rows = platform.corpus.retention_settings(ctx)
    if collection is not None:
        name = platform.corpus.collection_row(collection, ctx)["name"]  # NotFound naming the field otherwise
        rows = [r for r in rows if r["name"] == name]
    report = RetentionReport(now=now, dry_run=dry_run)
    for row in rows:
        if stop is not None and stop.is_set():
            break
        report.collections.append(_collection(platform, row, now, dry_run, ctx, stop))
    report.conversations = _conversations(platform, now, dry_run, ctx, collection, stop)
    if collection is None and ctx.tenants is None:
        report.traces = _traces(platform, now, dry_run)
    if not dry_run and (trigger != "job" or report.changed or report.failures):
        platform.gateway.audit(ctx.user, "retention.apply", collection or "all",
                               {**report.counts(), "trigger": trigger})
    return report


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _collection(platform, row: dict, now: datetime, dry_run: bool, ctx: RequestContext,
                stop: threading.Event | None) -> CollectionRetention:
    outcome = CollectionRetention(row["name"], row["tenant"], row["retention_days"])
    if row["retention_days"] is None:
        return outcome
    cutoff = outcome.cutoff = now - timedelta(days=row["retention_days"])
    try:
        with platform.store.cursor() as cur:
            expired = [{**d, "age_days": (now - d["last_ingested_at"]).days}
                       for d in retention_store.expired_documents(cur, row["id"], cutoff)]
        if dry_run:
            outcome.documents = _with_attachments(platform, expired, ctx)
            return outcome
        gone: set[int] = set()  # deleted with their mail earlier in this round
        for doc in expired:
            if stop is not None and stop.is_set():
                break
            if doc["id"] in gone:
                continue
            current = platform.corpus.require_document(doc["id"], ctx)
            if current["collection_id"] != row["id"] or current["updated_at"] >= cutoff:
                continue  # moved or updated since the list was read: no longer this collection's expired document
            try:  # the user's delete: chunks, FAISS and BM25 entries, stored originals, an e-mail's attachments
                deletion = platform.corpus.remove_document(doc["id"], ctx)  # audited as the caller
            except Conflict:
                continue  # deleted by someone else in between
            # An attachment has no file of its own to delete: only rows in DuckDB, which go with its mail's.
            with platform.store.transaction() as cur:
                for document_id in deletion.ids:
                    retention_store.purge_document_versions(cur, document_id)
            gone.update(deletion.ids)
            outcome.chunks += deletion.chunks
            outcome.documents += [doc] + [_attached(a, doc, expired) for a in deletion.attachments]
            outcome.deleted += len(deletion.ids)
        if outcome.deleted:
            index_version = platform.corpus.index_version(row["name"], ctx)
            with platform.store.transaction("chat") as cur:
                outcome.cache_entries = retention_store.delete_unservable_cache_entries(cur, row["name"], index_version)
    except Exception as exc:  # this collection waits for the next round; the others go on
        logger.exception("retention of collection %r failed; it is tried again next round", row["name"])
        outcome.error = _error(exc)
    return outcome


def _attached(attachment: dict, mail: dict, expired: list[dict]) -> dict:
    """An attachment's entry: its own age when it expired too, else its mail's (expiring a mail expires them)."""
    own = next((d for d in expired if d["id"] == attachment["id"]), None)
    entry = own or {"id": attachment["id"], "title": attachment["title"], "last_ingested_at": mail["last_ingested_at"],
                    "age_days": mail["age_days"]}
    return {**entry, "attachment_of": mail["id"]}


def _with_attachments(platform, expired: list[dict], ctx: RequestContext) -> list[dict]:
    """What a dry run lists: the expired documents, each e-mail's attachments right after it (a delete of the mail
    takes them, expired or not), none twice."""
    listed: list[dict] = []
    seen: set[int] = set()
    for doc in expired:
        if doc["id"] in seen:
            continue
        seen.add(doc["id"])
        listed.append(doc)
        for attachment in platform.corpus.attachments(doc["id"], ctx):
            if attachment["id"] not in seen:
                seen.add(attachment["id"])
                listed.append(_attached(attachment, doc, expired))
    return listed


def _book(platform) -> ConversationBook:
    """The conversation book for `expire` only, without the ChatService (which would load the PII analyzer)."""
    def no_rename(text: str) -> str:
        raise RuntimeError("the retention job renames no conversation")

    return ConversationBook(ConversationMemory(platform.store, platform.settings), platform.corpus,
                            platform.gateway.audit, no_rename)


def _per_tenant(conversations: list[dict]) -> list[dict]:
    tenants: dict[str, dict] = {}
    for c in conversations:  # oldest first
        entry = tenants.setdefault(c["tenant"], {"tenant": c["tenant"], "conversations": 0, "oldest": c["last_message_at"]})
        entry["conversations"] += 1
    return sorted(tenants.values(), key=lambda t: t["tenant"])


def _conversations(platform, now: datetime, dry_run: bool, ctx: RequestContext, collection: str | None,
                   stop: threading.Event | None) -> ConversationRetention:
    outcome = ConversationRetention(platform.settings.conversation_retention_days)
    if not outcome.retention_days:
        return outcome
    cutoff = outcome.cutoff = now - timedelta(days=outcome.retention_days)
    tenants = None if ctx.tenants is None else sorted(ctx.tenants)
    try:
        with platform.store.cursor() as cur:
            expired = retention_store.expired_conversations(cur, cutoff, tenants, collection)
            if dry_run:
                outcome.cache_entries = retention_store.count_cache_entries_before(cur, cutoff, tenants, collection)
        if not dry_run:
            book, went = _book(platform), []
            for conversation in expired:
                if stop is not None and stop.is_set():
                    break
                removed = book.expire(conversation["id"])  # its messages and their ratings with it
                if removed is not None:
                    went.append(conversation)
                    outcome.messages += removed["messages"]
                    outcome.feedback += removed["feedback"]
            expired, outcome.deleted = went, len(went)
            with platform.store.transaction("chat") as cur:
                outcome.cache_entries = retention_store.delete_cache_entries_before(cur, cutoff, tenants, collection)
        outcome.tenants = _per_tenant(expired)
    except Exception as exc:
        logger.exception("conversation retention failed; it is tried again next round")
        outcome.error = _error(exc)
    return outcome


def _traces(platform, now: datetime, dry_run: bool) -> TraceRetention:
    days = platform.settings.trace_retention_days
    outcome = TraceRetention(days, retention_cutoff(days, now))
    try:
        result = (pending_rollup if dry_run else apply_retention)(platform.store, days, now)
        outcome.days, outcome.traces, outcome.spans = (result["days_rolled_up"], result["traces_deleted"],
                                                       result["spans_deleted"])
    except Exception as exc:
        logger.exception("trace retention failed; it is tried again next round")
        outcome.error = _error(exc)
    return outcome


class RetentionJob:
    """The platform's one retention job. The server starts its timer (`start`), which runs a round soon after the
    start and then every hour on a thread of its own, with or without traffic or tracing, so no request waits for
    it; a part that fails is logged and tried again next round. `run_once` is one round on the caller's thread."""

    def __init__(self, platform: Any):
        self.platform = platform
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_report: RetentionReport | None = None

    def start(self, every_s: float = EVERY_S, first_after_s: float = FIRST_AFTER_S) -> bool:
        """Start the timer unless it runs already (or the job is closed); True when it started."""
        with self._lock:
            if self._stop.is_set() or self._thread is not None:
                return False
            self._thread = threading.Thread(target=self._every, args=(every_s, first_after_s), name="retention",
                                            daemon=True)
            self._thread.start()
            return True

    def _every(self, every_s: float, first_after_s: float) -> None:
        delay = first_after_s
        while not self._stop.wait(delay):  # set by close(): no round starts after it
            self.run_once()
            delay = every_s

    def run_once(self, now: datetime | None = None) -> RetentionReport | None:
        """One round of every policy; None when it could not run at all (logged, like each failed part)."""
        try:
            report = apply_retention_policies(self.platform, now, stop=self._stop)
        except Exception:
            logger.exception("retention round failed; it is tried again next round")
            return None
        if report.changed:
            logger.info("retention: %s", report.counts())
        self.last_report = report
        return report

    def close(self) -> None:
        """Stop the timer, and a round in progress after its current document or conversation, and wait for it."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_WAIT_S)
            if thread.is_alive():
                logger.warning("retention round still running after %.0f s at shutdown", CLOSE_WAIT_S)
