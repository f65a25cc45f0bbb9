"""The Platform builds and closes the parts (store, embedder, tracer) and the services every door uses."""
from __future__ import annotations

import threading
from typing import Any

from backend.corpus.service import CorpusService
from backend.gateway.service import Gateway
from backend.retrieval.indexes import IndexRegistry
from backend.retrieval.retriever import Retriever
from backend.settings import Settings, get_settings
from backend.store import ingest_runs as ingest_run_store
from backend.store.db import Store
from backend.store.sequences import repair_sequences


class Platform:
    """One per process, shared by every session: `platform.corpus`, `platform.retriever`, `platform.chat`.

    A variant configuration (evaluation's grid points, a scratch collection chunked another way, a bench
    run with compression on) is `platform.derive(...)`: the same store, embedder, open indexes and locks,
    other settings. Only the root platform claims the DuckDB file and closes it.
    """

    def __init__(self, settings: Settings | None = None, *, _parent: Platform | None = None):
        self.settings = settings or get_settings()
        self._parent = _parent
        self._lock = threading.Lock()
        self._embedder: Any = None
        self._tracer: Any = None
        self._own_tracer = False
        self._chat: Any = None
        self._tools: Any = None
        self._retention: Any = None
        self._derived: dict[str, Platform] = {}
        self._closed = False
        if _parent is None:
            self.settings.ensure_dirs()
            self.store = Store(self.settings.db_path)
            with self.store.transaction() as cur:
                ingest_run_store.mark_interrupted_runs(cur)  # this process owns the file now: a 'running' run died with it
                repair_sequences(cur)
            self.indexes = IndexRegistry(self.store, self.settings.index_dir)
            self.gateway = Gateway(self.store, self.settings)
        else:
            self.store = _parent.store
            self.indexes = _parent.indexes
            self.gateway = _parent.gateway  # one limiter and one set of accounts per process, whatever the variant
        self.corpus = CorpusService(self.store, self.settings, self.indexes, self)
        self.retriever = Retriever(self.store, self.settings, self.corpus, lambda: self.embedder)

    # --- parts, built on first use -------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    from backend.retrieval.embedder import get_embedder

                    self._embedder = get_embedder(self.settings.embedding_model)  # one load per model per process
        return self._embedder

    def loaded_embedder_dim(self) -> int | None:
        """The embedder's dimension if it is loaded already (pages show stats without loading models)."""
        return self._embedder.dim if self._embedder is not None else None

    @property
    def retention(self):
        """The root platform's one retention job (documents, conversations, traces; backend/privacy/retention.py):
        the server starts its timer, `python -m backend retention` runs one round."""
        root = self._parent or self
        if root._retention is None:
            with root._lock:
                if root._retention is None:
                    from backend.privacy.retention import RetentionJob

                    root._retention = RetentionJob(root)
        return root._retention

    @property
    def tracer(self):
        """The one Tracer (a trace per request, spans to DuckDB); a derived platform shares its parent's unless
        its tracing settings differ (evaluation turns tracing off so its traffic stays out of the traces)."""
        if self._tracer is None:
            with self._lock:
                if self._tracer is None:
                    self._tracer = self._make_tracer()
        return self._tracer

    def _make_tracer(self):
        tracing = ("tracing_enabled", "otlp_endpoint", "otlp_timeout_s", "trace_queue_size", "trace_retention_days")
        parent = self._parent
        if parent is not None and all(getattr(self.settings, f) == getattr(parent.settings, f) for f in tracing):
            return parent.tracer
        from backend.observability.tracing import Tracer

        self._own_tracer = True
        return Tracer(self.store if self.settings.tracing_enabled else None, self.settings)

    @property
    def counter(self):
        from backend.text.tokens import counter_for_model

        return counter_for_model(self.settings.embedding_model)

    def manifest(self):
        """What an index built with these settings records: a collection built otherwise is refused."""
        from backend.retrieval.manifest import IndexManifest

        return IndexManifest.from_settings(self.settings, self.embedder.dim)

    def ingest_redactor(self):
        """The redactor ingest records each document's personal data with, and redacts with in a collection whose
        pii_at_ingest is 'redact' (collections made before that setting follow redact_at_ingest)."""
        from backend.pii import get_redactor

        return get_redactor(self.settings)

    @property
    def chat(self):
        """The hot path (backend.chat.service.ChatService), built on first use: it loads the PII analyzer."""
        if self._chat is None:
            with self._lock:
                if self._chat is None:
                    from backend.chat.service import ChatService

                    self._chat = ChatService(self)
        return self._chat

    @property
    def tools(self):
        """The tools and their guarded executor (backend.tools.executor.ToolExecutor), built on first use."""
        if self._tools is None:
            with self._lock:
                if self._tools is None:
                    from backend.tools.builtin import platform_registry
                    from backend.tools.executor import ToolExecutor

                    # The built-ins and external MCP servers' tools, listed once: a variant shares its parent's.
                    parent = self._parent
                    same = parent is not None and parent.settings.mcp_servers == self.settings.mcp_servers
                    registry = parent.tools.registry if parent is not None and same else platform_registry(self.settings)
                    self._tools = ToolExecutor(self, registry)
        return self._tools

    def derive(self, settings: Settings | None = None, **overrides: Any) -> Platform:
        """This platform with other settings (`settings`, or these field overrides), sharing store and parts."""
        root = self._parent or self
        merged = (settings or self.settings).model_copy(update=overrides) if overrides else (settings or self.settings)
        merged = Settings.model_validate(merged.model_dump())  # validated like any Settings
        if merged.db_path != root.settings.db_path:
            raise ValueError(f"a derived platform shares the store: data_dir must stay {root.settings.data_dir}")
        key = merged.model_dump_json()
        if key == root.settings.model_dump_json():
            return root
        with root._lock:
            derived = root._derived.get(key)
            if derived is None:
                derived = root._derived[key] = Platform(merged, _parent=root)
        return derived

    # --- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        # Every writer saves the indexes it changed (and reconcile repairs any it did not), so nothing to flush.
        if self._closed:
            return
        self._closed = True
        for derived in list(self._derived.values()):
            derived.close()
        self._derived.clear()
        if self._tools is not None:
            self._tools.close()
        # The retention job and the tracer's exporter write to DuckDB: stop them before the file closes.
        if self._parent is None and self._retention is not None:
            self._retention.close()
        if self._tracer is not None and (self._parent is None or self._own_tracer):
            self._tracer.shutdown()
        if self._parent is None:
            try:  # queued usage and key last-use times are written now, while the store is still open
                self.gateway.close()
            finally:
                self.indexes.clear()
                self.store.close()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
