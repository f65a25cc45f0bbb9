"""Answer cache: exact and semantic hits, keyed by collection, tenant, index version and config; events and savings."""
from __future__ import annotations

import numpy as np
import pytest

from backend.chat.cache import AnswerCache, CacheKey, normalise_question
from backend.models import Answer, Citation
from backend.settings import Settings, fingerprint


@pytest.fixture
def cache(store, settings):
    return AnswerCache(store, settings)


def _unit(seed: int, dim: int = 384) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _near(vector: np.ndarray, cosine: float, seed: int = 99) -> np.ndarray:
    """A unit vector at exactly `cosine` to `vector`."""
    noise = _unit(seed, len(vector))
    noise -= (noise @ vector) * vector
    noise /= np.linalg.norm(noise)
    return (cosine * vector + np.sqrt(1 - cosine**2) * noise).astype(np.float32)


KEY = CacheKey("demo", "default", 3, fingerprint(Settings(), generator="extractive", retrieval_mode="hybrid", top_k=5))
ANSWER = Answer(text="Domestic transfers are free [1].", grounded=True, tokens_in=120, tokens_out=9, cost_usd=0.0004,
                latency_ms=250.0, citations=[Citation(1, 7, 2, "Fees", "Domestic transfers are free.", 1.0, heading_path=("Fees",))])


def test_exact_hit_ignores_case_spacing_and_trailing_punctuation(cache):
    cache.put("What is the fee for domestic transfers?", _unit(1), KEY, ANSWER)
    hit = cache.lookup("  what is the FEE for domestic   transfers ", None, KEY)
    assert hit.outcome == "exact_hit" and hit.similarity == 1.0
    assert hit.answer.text == ANSWER.text and hit.answer.citations[0].heading_path == ("Fees",)
    assert normalise_question("Fee?? ") == "fee"


def test_semantic_hit_above_threshold_only(cache):
    vector = _unit(1)
    cache.put("What is the fee for domestic transfers?", vector, KEY, ANSWER)
    hit = cache.lookup("How much do domestic transfers cost?", _near(vector, 0.97), KEY)
    assert hit.outcome == "semantic_hit" and hit.similarity == pytest.approx(0.97, abs=1e-3)
    assert cache.lookup("Do you charge for card payments abroad?", _near(vector, 0.90), KEY) is None


def test_a_close_question_about_another_figure_is_not_a_hit(cache):
    vector = _unit(1)
    cache.put("Who approves expense claims up to £1,000?", vector, KEY, ANSWER)
    assert cache.lookup("Who approves expense claims above £5,000?", _near(vector, 0.974), KEY) is None
    assert cache.lookup("Who signs off expense claims up to £1,000?", _near(vector, 0.974), KEY).outcome == "semantic_hit"


@pytest.mark.parametrize("other", [
    CacheKey("other", "default", 3, KEY.config),  # another collection
    CacheKey("demo", "acme", 3, KEY.config),  # another tenant
    CacheKey("demo", "default", 4, KEY.config),  # the documents changed: index_version bumped
    CacheKey("demo", "default", 3, fingerprint(Settings(), generator="extractive", retrieval_mode="bm25", top_k=5)),  # another retrieval mode
])
def test_no_hit_across_collections_tenants_index_versions_or_configs(cache, other):
    cache.put("What is the fee for domestic transfers?", _unit(1), KEY, ANSWER)
    assert cache.lookup("What is the fee for domestic transfers?", _unit(1), other) is None


def test_entries_older_than_the_ttl_are_not_reused(store, data_dir):
    cache = AnswerCache(store, Settings(data_dir=data_dir, cache_ttl_hours=1))
    cache.put("q", _unit(1), KEY, ANSWER)
    store.execute("UPDATE cache_entries SET created_at = created_at - INTERVAL 2 HOUR")
    assert cache.lookup("q", _unit(1), KEY) is None


def test_disabled_cache_neither_stores_nor_finds(store, data_dir):
    cache = AnswerCache(store, Settings(data_dir=data_dir, cache_enabled=False))
    assert cache.put("q", _unit(1), KEY, ANSWER) is None
    assert cache.lookup("q", _unit(1), KEY) is None


def test_events_count_hits_misses_and_what_hits_saved(cache, store):
    cache.put("What is the fee for domestic transfers?", _unit(1), KEY, ANSWER)
    cache.record(KEY, "miss", None, "t1")
    hit = cache.lookup("What is the fee for domestic transfers?", None, KEY)
    cache.record(KEY, hit.outcome, hit, "t2")
    stats = cache.stats("demo")
    assert (stats["hits"], stats["misses"], stats["hit_rate"]) == (1, 1, 0.5)
    assert stats["tokens_saved"] == 129 and stats["cost_saved_usd"] == pytest.approx(0.0004)
    assert stats["latency_saved_ms"] == 250.0
    assert store.scalar("SELECT hits FROM cache_entries") == 1


def test_stored_answer_drops_request_specific_fields(cache, store):
    answer = Answer(text="x [1].", trace_id="abc", conversation_id="c1", message_id=5, cached=False)
    cache.put("q", None, KEY, answer)
    hit = cache.lookup("q", None, KEY)
    assert (hit.answer.trace_id, hit.answer.conversation_id, hit.answer.message_id) == ("", "", None)


def test_fingerprint_counts_every_field_marked_as_shaping_an_answer():
    """A new answer-shaping setting changes the cache key by being declared so, with no list to update."""
    from pydantic import Field

    from backend.settings import ANSWER, fingerprint_fields

    class WithNewKnob(Settings):
        answer_tone: str = Field("plain", description="A new knob that shapes answers.", json_schema_extra=ANSWER)
        log_colour: str = Field("blue", description="A knob that does not.")

    plain, formal = WithNewKnob(), WithNewKnob(answer_tone="formal")
    assert "answer_tone" in fingerprint_fields(plain) and "log_colour" not in fingerprint_fields(plain)
    assert fingerprint(plain) != fingerprint(formal)
    assert fingerprint(plain) == fingerprint(WithNewKnob(log_colour="red"))
    # Per-request values replace the settings' ones, and only marked fields may be overridden.
    assert fingerprint(plain, top_k=3) != fingerprint(plain) == fingerprint(plain, top_k=plain.top_k)
    with pytest.raises(ValueError, match="log_colour"):
        fingerprint(plain, log_colour="red")
