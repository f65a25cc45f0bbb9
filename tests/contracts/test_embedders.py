"""One contract for every embedder the factory knows: the shipped MiniLM loaded offline, and a fake registered like a plugin."""
from __future__ import annotations

import numpy as np
import pytest

from backend.models import GroundworkError
from backend.retrieval.embedder import Embedder, embedder_names, get_embedder
from tests.contracts.conftest import FAKE_EMBEDDER

NAMES = [*embedder_names(), FAKE_EMBEDDER]  # collected before the fakes fixture registers the fake
DOCUMENTS = [
    "Refunds are paid back to the original account within 5 business days.",
    "Laptops use full disk encryption.",
    "Annual leave is 25 days plus public holidays.",
]
QUERY = "refunds paid back to the account within 5 days"


@pytest.fixture(params=NAMES)
def embedder(request) -> Embedder:
    return get_embedder(request.param)


def _unit(vectors: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-5))


def test_every_registered_name_is_under_contract():
    assert set(embedder_names()) == set(NAMES)


def test_is_an_embedder_loaded_once_per_process(embedder):
    assert isinstance(embedder, Embedder) and embedder.model_id in NAMES
    assert isinstance(embedder.dim, int) and embedder.dim > 0 and embedder.max_tokens > 0
    assert get_embedder(embedder.model_id) is embedder


def test_documents_encode_to_unit_float32_rows_of_its_dim(embedder):
    vectors = embedder.encode(DOCUMENTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(DOCUMENTS), embedder.dim) and _unit(vectors)
    empty = embedder.encode([])
    assert empty.dtype == np.float32 and empty.shape == (0, embedder.dim)


def test_a_query_encodes_to_one_unit_vector_equal_to_its_document_encoding(embedder):
    query = embedder.encode_query(QUERY)
    assert query.dtype == np.float32 and query.shape == (embedder.dim,) and _unit(query)
    assert np.allclose(query, embedder.encode([QUERY])[0], atol=1e-5)


def test_deterministic_and_independent_of_batching(embedder):
    together = embedder.encode(DOCUMENTS)
    assert np.array_equal(together, embedder.encode(DOCUMENTS))
    one_by_one = np.vstack([embedder.encode([d], batch_size=1) for d in DOCUMENTS])
    assert np.allclose(together, one_by_one, atol=1e-5)
    assert np.allclose(embedder.encode(DOCUMENTS[::-1])[::-1], together, atol=1e-5)  # order does not leak


def test_similar_text_is_nearer_than_unrelated_text(embedder):
    documents = embedder.encode(DOCUMENTS)
    similarity = documents @ embedder.encode_query(QUERY)
    assert int(np.argmax(similarity)) == 0 and similarity[0] > similarity[1:].max() + 0.05
    assert not np.allclose(documents[1], documents[2])  # not one vector for everything


def test_an_unregistered_name_is_a_local_path_and_a_missing_one_is_clear(tmp_path):
    with pytest.raises(GroundworkError, match="not found"):
        get_embedder(str(tmp_path / "no-such-model"))
