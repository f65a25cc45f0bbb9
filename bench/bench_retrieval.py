"""Retrieval latency: the hybrid path on SciFact by stage, LangChain's EnsembleRetriever on the same chunks, FAISS at 1M vectors."""
from __future__ import annotations

import argparse
import time

import numpy as np

from bench import SCIFACT_DIR, bench_settings, machine, percentiles, timed, write_results

COLLECTION = "beir-scifact"


def _scifact_index(quick: bool):
    """The SciFact collection (built through the platform on first use) and what the bench needs from it."""
    from backend.evaluation.beir import ensure_indexed, load_beir
    from backend.platform import Platform

    dataset = load_beir(SCIFACT_DIR, "test")
    platform = Platform(bench_settings("data"))
    ensure_indexed(platform, dataset, COLLECTION)
    index = platform.collection_index(COLLECTION)
    queries = list(dataset.queries.items())[: 100 if quick else None]
    return platform, dataset, index, queries


def _chunk_sources(platform, chunk_ids) -> dict[int, str]:
    sources = platform.document_source_map(COLLECTION)
    chunks = platform.chunks_by_ids(list(chunk_ids))
    return {chunk_id: sources[chunk.document_id] for chunk_id, chunk in chunks.items() if chunk.document_id in sources}


def bench_scifact(quick: bool = False) -> dict:
    """Per-stage latency of query embedding + BM25 + FAISS + RRF, then LangChain's ensemble on the same chunks."""
    from backend.evaluation.beir import compute_metrics, document_ranking
    from backend.retrieval.fusion import fuse_reciprocal_rank

    platform, dataset, index, queries = _scifact_index(quick)
    embedder = platform.embedder
    settings = platform.settings
    for _, text in queries[:10]:  # warm caches (stemmer memo, BLAS, allocator)
        index.search(text, embedder.encode_query(text), "hybrid", 10, settings.candidate_k)

    stages = {"embed": [], "bm25": [], "faiss": [], "fusion": [], "total": []}
    for _, text in queries:
        started = time.perf_counter()
        vec, ms = timed(embedder.encode_query, text)
        stages["embed"].append(ms)
        bm25, ms = timed(index.lexical.search, text, settings.candidate_k)
        stages["bm25"].append(ms)
        dense, ms = timed(index.dense.search, vec, settings.candidate_k)
        stages["faiss"].append(ms)
        _, ms = timed(fuse_reciprocal_rank, {"bm25": bm25, "dense": dense[0]}, settings.rrf_k, 10)
        stages["fusion"].append(ms)
        stages["total"].append((time.perf_counter() - started) * 1000.0)

    # Same depth for both systems: 10 candidates per retriever, 10 fused results, RRF c=60.
    ours_ms, ours_run = [], {}
    chunk_ids = sorted(index.ids()[0])
    chunk_source = _chunk_sources(platform, chunk_ids)
    for query_id, text in queries:
        started = time.perf_counter()
        hits = index.search(text, embedder.encode_query(text), "hybrid", 10, 10)
        ours_ms.append((time.perf_counter() - started) * 1000.0)
        ours_run[query_id] = document_ranking([chunk_source[h.chunk_id] for h in hits if h.chunk_id in chunk_source], 10)

    langchain = bench_langchain(index, embedder, chunk_ids, chunk_source, queries)
    qrels = {query_id: dataset.qrels[query_id] for query_id, _ in queries}
    platform.close()
    ours = percentiles(ours_ms)
    return {
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


def _synthetic_vectors(n: int, dim: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    """Random vectors drawn around random centres (a Gaussian mixture), L2-normalised: clustered like embeddings."""
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        size = min(step, n - start)
        block = centers[rng.integers(0, len(centers), size)] + 0.6 * rng.standard_normal((size, dim), dtype=np.float32) / np.sqrt(dim)
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def bench_faiss_synthetic(n: int = 1_000_000, dim: int = 384, n_queries: int = 200, nprobes=(16, 32, 64)) -> dict:
    """Exact vs IVF DenseIndex on n synthetic vectors: build time, single-query latency, IVF recall@10 vs exact."""
    from backend.retrieval.dense import DenseIndex

    rng = np.random.default_rng(42)
    centers = rng.standard_normal((2_000, dim), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    vectors = _synthetic_vectors(n, dim, rng, centers)
    queries = _synthetic_vectors(n_queries, dim, rng, centers)
    ids = np.arange(n, dtype=np.int64) + 1

    exact = DenseIndex(dim, exact_below=n + 1)
    _, exact_build_ms = timed(exact.add, ids, vectors)
    exact_ms, truth = [], []
    for query in queries:
        result, ms = timed(exact.search, query, 10)
        exact_ms.append(ms)
        truth.append({i for i, _ in result[0]})
    del exact

    ivf = DenseIndex(dim, exact_below=min(200_000, n - 1))
    _, ivf_build_ms = timed(ivf.add, ids, vectors)
    del vectors
    results = {
        "vectors": n,
        "dim": dim,
        "data": "synthetic: random Gaussian-mixture vectors (2,000 random centres), L2-normalised; not real embeddings",
        "exact_build_s": round(exact_build_ms / 1000, 1),
        "exact_ms": percentiles(exact_ms),
        "ivf_kind": ivf.kind,
        "ivf_nlist": int(ivf._index.nlist),
        "ivf_build_s": round(ivf_build_ms / 1000, 1),
        "ivf": {},
    }
    for nprobe in nprobes:
        ivf.nprobe = nprobe
        latencies, hits = [], 0
        for query, expected in zip(queries, truth):
            result, ms = timed(ivf.search, query, 10)
            latencies.append(ms)
            hits += len(expected & {i for i, _ in result[0]})
        results["ivf"][f"nprobe={nprobe}"] = {"ms": percentiles(latencies), "recall@10_vs_exact": round(hits / (10 * len(queries)), 4)}
    return results


def main(quick: bool = False) -> dict:
    results = {"machine": machine(), "quick": quick}
    if SCIFACT_DIR.is_dir():
        results["scifact"] = bench_scifact(quick)
    else:
        results["scifact"] = f"skipped: {SCIFACT_DIR} not found"
    results["faiss_synthetic"] = bench_faiss_synthetic(n=100_000 if quick else 1_000_000, n_queries=100 if quick else 200)
    print_report(results)
    write_results("retrieval-quick" if quick else "retrieval", results)
    return results


def print_report(results: dict) -> None:
    print(f"== retrieval bench ({results['machine']}{', quick' if results['quick'] else ''})")
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
    synthetic = results["faiss_synthetic"]
    print(f"FAISS, {synthetic['vectors']:,} x {synthetic['dim']} {synthetic['data']}")
    print(f"  exact (flat IP): build {synthetic['exact_build_s']} s, p50 {synthetic['exact_ms']['p50']:.2f} ms, p95 {synthetic['exact_ms']['p95']:.2f} ms")
    print(f"  IVF ({synthetic['ivf_kind']}, nlist {synthetic['ivf_nlist']}): build {synthetic['ivf_build_s']} s")
    for name, figures in synthetic["ivf"].items():
        print(f"    {name:<10} p50 {figures['ms']['p50']:.2f} ms, p95 {figures['ms']['p95']:.2f} ms, recall@10 vs exact {figures['recall@10_vs_exact']:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 queries and 100k synthetic vectors")
    main(parser.parse_args().quick)
