"""Retrieval latency: the hybrid path on SciFact by stage, LangChain's EnsembleRetriever on the same chunks, FAISS at 1M vectors."""
from __future__ import annotations

import argparse
import time

import numpy as np

from bench import SCIFACT_DIR, bench_settings, heading, machine, percentiles, timed, write_results

COLLECTION = "beir-scifact"


def _scifact_index(quick: bool):
    """The SciFact collection (built through the platform on first use) and what the bench needs from it."""
    from backend.evaluation.beir import ensure_indexed, load_beir
    from backend.platform import Platform

    dataset = load_beir(SCIFACT_DIR, "test")
    platform = Platform(bench_settings("data"))
    ensure_indexed(platform, dataset, COLLECTION)
    index = platform.corpus.collection_index(COLLECTION)
    queries = list(dataset.queries.items())[: 100 if quick else None]
    return platform, dataset, index, queries


def _chunk_sources(platform, chunk_ids) -> dict[int, str]:
    sources = platform.corpus.document_source_map(COLLECTION)
    chunks = platform.corpus.chunks_by_ids(list(chunk_ids))
    return {chunk_id: sources[chunk.document_id] for chunk_id, chunk in chunks.items() if chunk.document_id in sources}


def bench_scifact(quick: bool = False) -> tuple[dict, np.ndarray, np.ndarray]:
    """Per-stage latency of query embedding + BM25 + FAISS + RRF, then LangChain's ensemble on the same chunks.

    Also returns the chunk vectors and query vectors, for the FAISS benches.
    """
    from backend.evaluation.beir import compute_metrics, document_ranking
    from backend.retrieval.fusion import fuse_reciprocal_rank

    platform, dataset, index, queries = _scifact_index(quick)
    embedder = platform.embedder
    settings = platform.settings
    for _, text in queries[:10]:  # warm caches (stemmer memo, BLAS, allocator, DuckDB)
        platform.retriever.search(text, COLLECTION, "hybrid", 10, settings.candidate_k)

    stages = {"embed": [], "bm25": [], "faiss": [], "fusion": [], "total": []}
    query_vectors = []
    for _, text in queries:
        started = time.perf_counter()
        vec, ms = timed(embedder.encode_query, text)
        query_vectors.append(vec)
        stages["embed"].append(ms)
        bm25, ms = timed(index.lexical.search, text, settings.candidate_k)
        stages["bm25"].append(ms)
        dense, ms = timed(index.dense.search, vec, settings.candidate_k)
        stages["faiss"].append(ms)
        _, ms = timed(fuse_reciprocal_rank, {"bm25": bm25, "dense": dense[0]}, settings.rrf_k, 10)
        stages["fusion"].append(ms)
        stages["total"].append((time.perf_counter() - started) * 1000.0)

    # Same depth for both systems: 10 candidates per retriever, 10 fused results, RRF c=60. Ours is the one
    # retriever every door uses (query embedding, both retrievers, fusion, the chunks' DuckDB rows, current
    # versions first), as LangChain's side returns its documents too.
    ours_ms, ours_run = [], {}
    chunk_ids = sorted(index.ids()[0])
    chunk_source = _chunk_sources(platform, chunk_ids)
    for query_id, text in queries:
        started = time.perf_counter()
        hits = platform.retriever.search(text, COLLECTION, "hybrid", 10, 10)
        ours_ms.append((time.perf_counter() - started) * 1000.0)
        ours_run[query_id] = document_ranking([chunk_source[h.chunk_id] for h in hits if h.chunk_id in chunk_source], 10)

    langchain = bench_langchain(index, embedder, chunk_ids, chunk_source, queries)
    qrels = {query_id: dataset.qrels[query_id] for query_id, _ in queries}
    chunk_vectors = np.stack(list(index.vectors(chunk_ids).values()))
    platform.close()
    ours = percentiles(ours_ms)
    figures = {
        "corpus": f"SciFact: {len(dataset.corpus):,} documents, {len(chunk_ids):,} chunks",
        "queries": len(queries),
        "candidate_k": settings.candidate_k,
        "stages_ms": {name: percentiles(values) for name, values in stages.items()},
        "groundwork_depth10_ms": ours,
        "groundwork_depth10_ndcg@10": round(compute_metrics(qrels, ours_run)["ndcg@10"], 4),
        "langchain_ensemble_ms": langchain["latency"],
        "langchain_ensemble_ndcg@10": round(compute_metrics(qrels, langchain["run"])["ndcg@10"], 4),
        "langchain_build_s": langchain["build_s"],
        "latency_ratio_langchain_over_groundwork_p50": round(langchain["latency"]["p50"] / ours["p50"], 1),
    }
    return figures, chunk_vectors, np.stack(query_vectors)


def bench_langchain(index, embedder, chunk_ids, chunk_source, queries) -> dict:
    """LangChain EnsembleRetriever (BM25Retriever + FAISS vector store) over the same chunk texts and vectors."""
    from langchain.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings

    from backend.evaluation.beir import document_ranking

    class GroundworkEmbeddings(Embeddings):
        """The same loaded embedder behind LangChain's interface."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.encode_query(text).tolist()

    texts = index.texts(chunk_ids)
    vectors = index.vectors(chunk_ids)
    ordered = [chunk_id for chunk_id in chunk_ids if chunk_id in texts and chunk_id in vectors]
    metadatas = [{"chunk_id": chunk_id} for chunk_id in ordered]
    started = time.perf_counter()
    bm25 = BM25Retriever.from_texts([texts[c] for c in ordered], metadatas=metadatas, k=10)
    store = FAISS.from_embeddings(
        [(texts[c], vectors[c].tolist()) for c in ordered], GroundworkEmbeddings(), metadatas=metadatas
    )
    ensemble = EnsembleRetriever(retrievers=[bm25, store.as_retriever(search_kwargs={"k": 10})], weights=[0.5, 0.5])
    build_s = time.perf_counter() - started
    for _, text in queries[:3]:
        ensemble.invoke(text)
    latencies, run = [], {}
    for query_id, text in queries:
        docs, ms = timed(ensemble.invoke, text)
        latencies.append(ms)
        ranked = [chunk_source[d.metadata["chunk_id"]] for d in docs if d.metadata["chunk_id"] in chunk_source]
        run[query_id] = document_ranking(ranked, 10)
    return {"latency": percentiles(latencies), "run": run, "build_s": round(build_s, 1)}


class _GaussianVectors:
    """Random unit vectors from a Gaussian: isotropic, or with the mean and covariance of real embeddings."""

    def __init__(self, dim: int, like: np.ndarray | None, rng: np.random.Generator):
        self.rng = rng
        if like is None:
            self.mean, self.basis = np.zeros(dim, dtype=np.float32), np.eye(dim, dtype=np.float32)
        else:
            self.mean = like.mean(axis=0).astype(np.float32)
            eigenvalues, eigenvectors = np.linalg.eigh(np.cov(like, rowvar=False))
            self.basis = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))).T.astype(np.float32)

    def draw(self, n: int) -> np.ndarray:
        out = np.empty((n, len(self.mean)), dtype=np.float32)
        for start in range(0, n, 100_000):
            size = min(100_000, n - start)
            block = self.mean + self.rng.standard_normal((size, len(self.mean)), dtype=np.float32) @ self.basis
            out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out


def _recall_at_10(index, queries: np.ndarray, truth: list[set[int]]) -> tuple[float, list[float]]:
    latencies, found = [], 0
    for query, expected in zip(queries, truth):
        result, ms = timed(index.search, query, 10)
        latencies.append(ms)
        found += len(expected & {i for i, _ in result[0]})
    return round(found / (10 * len(queries)), 4), latencies


def bench_faiss(vectors: np.ndarray, queries: np.ndarray, label: str, nprobes=(16, 32, 64, 128, 256)) -> dict:
    """Exact vs IVF DenseIndex on the same vectors: build time, single-query latency, IVF recall@10 vs exact."""
    from backend.retrieval.dense import DenseIndex

    n, dim = vectors.shape
    ids = np.arange(n, dtype=np.int64) + 1
    exact = DenseIndex(dim, exact_below=n + 1)
    _, exact_build_ms = timed(exact.add, ids, vectors)
    exact_ms, truth = [], []
    for query in queries:
        result, ms = timed(exact.search, query, 10)
        exact_ms.append(ms)
        truth.append({i for i, _ in result[0]})
    del exact
    ivf = DenseIndex(dim, exact_below=0)  # switches to IVF on the first add, trained on all the vectors
    _, ivf_build_ms = timed(ivf.add, ids, vectors)
    results = {
        "vectors": n,
        "dim": dim,
        "data": label,
        "exact_build_s": round(exact_build_ms / 1000, 1),
        "exact_ms": percentiles(exact_ms),
        "ivf_nlist": int(ivf._index.nlist),
        "ivf_build_s": round(ivf_build_ms / 1000, 1),
        "ivf": {},
    }
    for nprobe in nprobes:
        ivf.nprobe = nprobe
        recall, latencies = _recall_at_10(ivf, queries, truth)
        results["ivf"][f"nprobe={nprobe}"] = {"ms": percentiles(latencies), "recall@10_vs_exact": recall}
    return results


def bench_faiss_suite(n: int, n_queries: int, real_vectors: np.ndarray | None, real_queries: np.ndarray | None) -> list[dict]:
    """IVF against exact on the real SciFact vectors (IVF forced) and on n synthetic vectors of two kinds."""
    rng = np.random.default_rng(42)
    suite = []
    if real_vectors is not None:
        suite.append(bench_faiss(real_vectors, real_queries, "real: SciFact chunk vectors, SciFact test queries (IVF forced)"))
    kinds = [("synthetic: random Gaussian vectors, isotropic (no structure: the worst case for IVF)", None)]
    if real_vectors is not None:
        kinds.insert(0, ("synthetic: random Gaussian vectors with the mean and covariance of SciFact's MiniLM chunk vectors", real_vectors))
    for label, like in kinds:
        generator = _GaussianVectors(real_vectors.shape[1] if real_vectors is not None else 384, like, rng)
        suite.append(bench_faiss(generator.draw(n), generator.draw(n_queries), label))
    return suite


def main(quick: bool = False) -> dict:
    results = {"machine": machine(), "quick": quick}
    real_vectors = real_queries = None
    if SCIFACT_DIR.is_dir():
        results["scifact"], real_vectors, real_queries = bench_scifact(quick)
    else:
        results["scifact"] = f"skipped: {SCIFACT_DIR} not found"
    results["faiss"] = bench_faiss_suite(100_000 if quick else 1_000_000, 100 if quick else 200, real_vectors, real_queries)
    print_report(results)
    write_results("retrieval", results)
    return results


def print_report(results: dict) -> None:
    print(heading("retrieval", results))
    scifact = results["scifact"]
    if isinstance(scifact, str):
        print(scifact)
    else:
        print(f"{scifact['corpus']}; {scifact['queries']} queries; {scifact['candidate_k']} candidates per retriever")
        for stage, figures in scifact["stages_ms"].items():
            print(f"  {stage:<7} p50 {figures['p50']:7.2f} ms  p95 {figures['p95']:7.2f} ms")
        ours, theirs = scifact["groundwork_depth10_ms"], scifact["langchain_ensemble_ms"]
        print(f"  same depth (10 per retriever, RRF, top 10): Groundwork p50 {ours['p50']:.2f} / p95 {ours['p95']:.2f} ms, "
              f"nDCG@10 {scifact['groundwork_depth10_ndcg@10']:.3f}")
        print(f"  LangChain EnsembleRetriever (BM25Retriever + FAISS): p50 {theirs['p50']:.2f} / p95 {theirs['p95']:.2f} ms, "
              f"nDCG@10 {scifact['langchain_ensemble_ndcg@10']:.3f}; ratio {scifact['latency_ratio_langchain_over_groundwork_p50']}x")
    for figures in results["faiss"]:
        print(f"FAISS, {figures['vectors']:,} x {figures['dim']}, {figures['data']}")
        print(f"  exact (flat inner product): p50 {figures['exact_ms']['p50']:.2f} ms, p95 {figures['exact_ms']['p95']:.2f} ms")
        print(f"  IVF, nlist {figures['ivf_nlist']}, built in {figures['ivf_build_s']} s:")
        for name, ivf in figures["ivf"].items():
            print(f"    {name:<12} p50 {ivf['ms']['p50']:.2f} ms, p95 {ivf['ms']['p95']:.2f} ms, recall@10 vs exact {ivf['recall@10_vs_exact']:.3f}")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 queries and 100k synthetic vectors")
    main(parser.parse_args().quick)
