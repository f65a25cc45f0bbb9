"""The hot path: question checks, retrieval through the one retriever, generation, memory, answer cache."""
