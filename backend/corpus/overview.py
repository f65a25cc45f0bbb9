"""The corpus browser's overview: what is stored per collection and type, chunk lengths, ingest history,
near-duplicate groups and a 2-D map of the stored embeddings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.context import RequestContext
from backend.corpus.labels import TEXT_PIECES, type_label
from backend.store import corpus_overview
from backend.text.tokens import MODEL_WINDOW


def corpus_breakdown(platform, ctx: RequestContext | None = None) -> list[dict]:
    """Active documents, chunks and tokens per collection and file type."""
    scope = platform.corpus.scope(None, ctx)
    with platform.store.cursor() as cur:
        rows = corpus_overview.breakdown(cur, scope)
    for row in rows:
        row["type"] = type_label(row.pop("mime_type"))
        row["chunks"], row["tokens"] = int(row["chunks"]), int(row["tokens"])
    return rows


@dataclass
class ChunkLengths:
    bins: list[tuple[int, int]]  # (first token count of the bin, chunks in it)
    bin_width: int
    chunks: int
    mean: float
    p50: float
    p95: float
    longest: int
    target: int  # settings.chunk_tokens: what the chunker aims for
    limit: int  # word pieces of text the model window leaves (window minus [CLS]/[SEP])
    window: int
    over_target: int


def chunk_lengths(platform, collection: str | None = None, bin_width: int = 8,
                  ctx: RequestContext | None = None) -> ChunkLengths:
    """Histogram of chunk token counts (binned in SQL) with the chunk target and the model window."""
    settings = platform.settings
    scope = platform.corpus.scope(collection, ctx)
    with platform.store.cursor() as cur:
        bins, (n, mean, p50, p95, longest, over) = corpus_overview.chunk_length_histogram(
            cur, scope, bin_width, settings.chunk_tokens)
    return ChunkLengths([(int(b), int(c)) for b, c in bins], bin_width, int(n), float(mean or 0), float(p50 or 0),
                        float(p95 or 0), int(longest or 0), settings.chunk_tokens, TEXT_PIECES, MODEL_WINDOW, int(over))


def ingest_history(platform, limit: int = 200, collection: str | None = None,
                   ctx: RequestContext | None = None) -> list[dict]:
    runs = platform.corpus.ingest_runs(limit, collection, ctx)
    for run in runs:
        finished = run.get("finished_at")
        run["seconds"] = round((finished - run["started_at"]).total_seconds(), 1) if finished else None
    return runs


def near_duplicate_groups(platform, collection: str | None = None, ctx: RequestContext | None = None) -> list[list[dict]]:
    """Groups of documents the ingest flagged as near-duplicates of one another (from ingest_files), biggest first.

    Each member: document id (None when the copy was skipped), title, file, status, and the similarity
    ingest measured to the document it matched.
    """
    scope = platform.corpus.scope(collection, ctx)
    with platform.store.cursor() as cur:
        edges = corpus_overview.near_duplicate_edges(cur, scope)
        ids = {e[1] for e in edges if e[1] is not None} | {e[2] for e in edges}
        docs = corpus_overview.titles_sources_statuses(cur, ids)
    parent: dict = {}

    def root(node):
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    similarity: dict = {}
    for path, doc_id, target, sim in edges:
        node = ("doc", doc_id) if doc_id is not None else ("file", path)
        parent[root(node)] = root(("doc", target))
        similarity[node] = sim
    groups: dict = {}
    for node in list(parent):
        groups.setdefault(root(node), []).append(node)
    result = []
    for members in groups.values():
        rows = []
        for kind, key in members:
            if kind == "doc" and key in docs:
                _, title, source, status = docs[key]
                rows.append({"document_id": key, "title": title, "file": Path(source).name, "status": status,
                             "similarity": similarity.get((kind, key))})
            else:
                rows.append({"document_id": key if kind == "doc" else None, "title": "", "status": "skipped",
                             "file": Path(str(key)).name, "similarity": similarity.get((kind, key))})
        rows.sort(key=lambda r: (r["similarity"] is not None, -(r["similarity"] or 0)))
        result.append(rows)
    result.sort(key=lambda rows: -len(rows))
    return result


@dataclass
class EmbeddingMap:
    points: list[dict]  # x, y, chunk_id, document, collection, tokens, preview
    total: int  # chunks in scope
    explained: tuple[float, float]  # share of variance along each axis

    @property
    def sampled(self) -> bool:
        return len(self.points) < self.total


def embedding_map(platform, collection: str | None = None, limit: int = 2000,
                  ctx: RequestContext | None = None) -> EmbeddingMap:
    """Stored chunk embeddings projected to 2-D with PCA; above `limit` chunks, a deterministic sample."""
    scope = platform.corpus.scope(collection, ctx)
    with platform.store.cursor() as cur:
        total, table = corpus_overview.embedding_sample(cur, scope, limit)
    if not total or table is None or table.num_rows < 2:
        return EmbeddingMap([], total, (0.0, 0.0))
    vectors = np.asarray(table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False),
                         dtype=np.float32).reshape(table.num_rows, -1)
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0)
    xy = pca.fit_transform(vectors)
    records = table.drop_columns(["embedding"]).to_pylist()
    for record, (x, y) in zip(records, xy):
        record["x"], record["y"] = float(x), float(y)
    ratio = pca.explained_variance_ratio_
    return EmbeddingMap(records, total, (float(ratio[0]), float(ratio[1])))
