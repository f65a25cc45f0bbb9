"""Retrieval engine: embedder, FAISS dense index, bm25s lexical index, fusion, rerankers, per-collection index."""
