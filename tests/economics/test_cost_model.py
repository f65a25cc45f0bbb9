"""Cost formulas against hand-computed cases: per request, per month, cache savings and the break-even volume."""
import datetime as dt

import pytest

from backend.economics.catalog import EmbeddingApi, Gpu, LlmApi, Reranker, VectorDb
from backend.economics.cost_model import (
    SECONDS_PER_MONTH,
    RequestProfile,
    break_even_volume,
    cache_savings,
    cost_curves,
    gpu_requests_per_second,
    llm_cost_per_request,
    measured_cache_hit_rate,
    monthly_api_cost,
    monthly_selfhosted_cost,
    volume_grid,
)
from backend.models import InputError

ROW = {"source": "test", "date": dt.date(2026, 1, 1)}
LLM = LlmApi(name="api", input_per_m=2.5, output_per_m=10.0, **ROW)
FREE_EMBED = EmbeddingApi(name="free", per_m=0.0, **ROW)
NO_DB = VectorDb(name="none", monthly_usd=0.0, **ROW)
# 1,000 prompt tokens at 5,000 tok/s = 0.2 s; 200 output tokens at 1,000 tok/s batched = 0.2 s -> 2.5 requests/s
GPU = Gpu(name="gpu", hourly_usd=1.0, prefill_tokens_per_s=5000, decode_tokens_per_s=1000,
          stream_decode_tokens_per_s=50, max_concurrency=16, **ROW)
PROFILE = RequestProfile(tokens_in=1000, tokens_out=200)


def test_the_sources_worked_example_is_250_dollars_not_2500():
    breakdown = monthly_api_cost(100_000, RequestProfile(tokens_in=1000, tokens_out=0), LLM, FREE_EMBED, NO_DB)
    assert breakdown.get("LLM input tokens") == pytest.approx(250.0)
    line = next(line for line in breakdown.lines if line.name == "LLM input tokens")
    assert line.formula == "100,000 requests x 1,000 tokens x $2.50/1M = $250"


def test_request_profile_from_parts_and_cost_per_request():
    profile = RequestProfile.from_parts(question_tokens=50, prompt_tokens=150, k=5, chunk_tokens=160, output_tokens=200)
    assert profile.tokens_in == 1000 and profile.embed_tokens == 50
    assert profile.tokens_in_formula == "50 question + 150 prompt + 5 x 160 chunk = 1,000 tokens"
    # 1,000 x $2.50/1M + 200 x $10/1M = $0.0025 + $0.0020
    assert llm_cost_per_request(profile, LLM) == pytest.approx(0.0045)
    with pytest.raises(InputError, match="k: -1"):
        RequestProfile.from_parts(50, 150, -1, 160, 200)


def test_monthly_api_cost_with_cache_embeddings_reranker_and_storage():
    embed = EmbeddingApi(name="e", per_m=0.02, **ROW)
    db = VectorDb(name="starter", monthly_usd=70.0, **ROW)
    rerank = Reranker(name="r", per_1k_requests_usd=2.0, latency_ms_base=0, latency_ms_per_candidate=0, **ROW)
    profile = RequestProfile(tokens_in=1000, tokens_out=200, embed_tokens=100)
    cost = monthly_api_cost(100_000, profile, LLM, embed, db, rerank, cache_hit_rate=0.4)
    # 60,000 uncached calls: 60,000 x 1,000 x 2.5/1M = 150; 60,000 x 200 x 10/1M = 120
    assert cost.get("LLM input tokens") == pytest.approx(150.0)
    assert cost.get("LLM output tokens") == pytest.approx(120.0)
    assert cost.get("query embeddings") == pytest.approx(0.2)  # every query is embedded: 100,000 x 100 x 0.02/1M
    assert cost.get("reranker") == pytest.approx(120.0)  # 60,000 / 1,000 x $2
    assert cost.get("vector database") == 70.0
    assert cost.total == pytest.approx(150 + 120 + 0.2 + 120 + 70)
    saved = cache_savings(100_000, profile, LLM, 0.4, rerank)
    assert saved.usd == pytest.approx(40_000 * (0.0045 + 0.002))


def test_self_hosted_replicas_are_sized_on_average_load():
    assert gpu_requests_per_second(GPU, 1000, 200) == pytest.approx(2.5)
    # at 50% utilisation one GPU serves 1.25 req/s x 2,628,000 s = 3,285,000 requests a month
    cost = monthly_selfhosted_cost(10_000_000, PROFILE, GPU, FREE_EMBED, NO_DB, utilisation=0.5)
    assert cost.get("GPU (gpu)") == pytest.approx(4 * 730.0)  # ceil(10M / 3.285M) = 4 GPUs
    assert "= 4 GPU" in cost.lines[0].formula
    assert monthly_selfhosted_cost(0, PROFILE, GPU, FREE_EMBED, NO_DB).total == pytest.approx(730.0)  # never below one
    with pytest.raises(InputError, match="GPU utilisation"):
        monthly_selfhosted_cost(1, PROFILE, GPU, FREE_EMBED, NO_DB, utilisation=0)


def test_break_even_hand_computed():
    even = break_even_volume(PROFILE, LLM, GPU, utilisation=0.5)
    # G = $730, c = $0.0045: one GPU pays for itself at 162,222 requests; rho = 730 / (0.0045 x 3,285,000) < 0.5
    assert even.first_volume == pytest.approx(730 / 0.0045)
    assert even.sustained_volume == pytest.approx(730 / 0.0045)
    with_cache = break_even_volume(PROFILE, LLM, GPU, utilisation=0.5, cache_hit_rate=0.5)
    assert with_cache.first_volume == pytest.approx(2 * 730 / 0.0045)


def test_break_even_with_a_slow_gpu_has_gaps_until_five_gpus():
    slow = GPU.model_copy(update={"prefill_tokens_per_s": 1000, "decode_tokens_per_s": 100})  # 3 s a request
    cheap = LLM.model_copy(update={"input_per_m": 1.1, "output_per_m": 0.0})  # c = $0.0011
    # Q = 876,000 a month at 100%; rho = 730 / (0.0011 x 876,000) = 0.758; ceil(1 / (1 - rho)) = 5 GPUs
    even = break_even_volume(PROFILE, cheap, slow, utilisation=1.0)
    assert even.first_volume == pytest.approx(730 / 0.0011)
    assert even.sustained_volume == pytest.approx(4 * 730 / 0.0011)

    def llm_only(volume):
        api = monthly_api_cost(volume, PROFILE, cheap, FREE_EMBED, NO_DB).total
        hosted = monthly_selfhosted_cost(volume, PROFILE, slow, FREE_EMBED, NO_DB, utilisation=1.0).total
        return api, hosted

    api, hosted = llm_only(even.sustained_volume - 10)
    assert api < hosted  # the last gap, with 4 GPUs
    for volume in (even.sustained_volume + 10, 3_000_000, 4_380_001, 20_000_000):
        api, hosted = llm_only(volume)
        assert hosted <= api
    api, hosted = llm_only(even.first_volume + 10)
    assert hosted <= api  # one GPU already pays for itself here...
    api, hosted = llm_only(876_000 + 10)
    assert api < hosted  # ...but a second GPU re-opens a gap


def test_break_even_never_when_the_api_is_cheaper_per_request():
    cheap = LLM.model_copy(update={"input_per_m": 0.1, "output_per_m": 0.0})
    even = break_even_volume(PROFILE, cheap, GPU, utilisation=0.5)
    assert even.first_volume is None and "never breaks even" in even.formula


def test_measured_profile_replaces_only_figures_the_traces_hold():
    assumed = RequestProfile(tokens_in=1000, tokens_out=200)
    assert assumed.with_measured({"requests": 0, "tokens_in_mean": 500}) is assumed
    assert assumed.with_measured(None) is assumed
    measured = assumed.with_measured({"requests": 12, "tokens_in_mean": 812.5, "tokens_out_mean": 0.0,
                                      "cache_hit_rate": 0.25})
    assert (measured.tokens_in, measured.tokens_out) == (812.5, 200)
    assert measured.provenance == "measured (12 requests; output tokens assumed)"
    assert measured_cache_hit_rate({"requests": 12, "cache_hit_rate": 0.25}) == 0.25
    assert measured_cache_hit_rate({"requests": 0, "cache_hit_rate": 0.25}) is None


def test_cost_curves_and_bad_volumes(catalog):
    grid = volume_grid(123_456)
    assert 123_456 in grid and grid == sorted(grid) and grid[0] == 1000
    rows = cost_curves(grid, PROFILE, catalog.llm_apis, catalog.gpus, FREE_EMBED, NO_DB)
    assert len(rows) == len(grid) * (len(catalog.llm_apis) + len(catalog.gpus))
    api = [r["monthly_usd"] for r in rows if r["option"] == "API: standard API model"]
    assert api == sorted(api) and api[grid.index(123_456)] == pytest.approx(123_456 * 0.0045)
    with pytest.raises(InputError, match="monthly queries: -1"):
        monthly_api_cost(-1, PROFILE, LLM, FREE_EMBED, NO_DB)
    with pytest.raises(InputError, match="cache hit rate"):
        monthly_api_cost(1, PROFILE, LLM, FREE_EMBED, NO_DB, cache_hit_rate=1.0)
    assert SECONDS_PER_MONTH == 730 * 3600
