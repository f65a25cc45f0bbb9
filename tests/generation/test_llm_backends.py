"""The openai backend against a real local OpenAI-compatible HTTP server; the vllm backend's contract without a GPU."""
from __future__ import annotations

import pytest

from backend.generation.base import GenerationRequest
from backend.generation.extractive import ExtractiveGenerator
from backend.generation.openai_backend import OpenAIGenerator
from backend.generation.prompts import SYSTEM_PROMPT
from backend.models import GroundworkError
from backend.settings import Settings
from tests.generation.openai_server import FakeLLMServer, closed_port_url
from tests.generation.samples import FEES, REFUNDS, make_passages

QUESTION = "How much does an international transfer cost?"


def _generator(data_dir, encoder, base_url, **overrides) -> OpenAIGenerator:
    settings = Settings(data_dir=data_dir, generator="openai", openai_base_url=base_url,
                        openai_timeout_s=overrides.pop("timeout", 5.0), openai_max_retries=overrides.pop("retries", 1), **overrides)
    return OpenAIGenerator(settings, fallback=ExtractiveGenerator(settings, encoder))


def _request():
    return GenerationRequest(QUESTION, make_passages(REFUNDS, FEES), max_tokens=64)


def test_streams_the_answer_token_by_token_with_usage(data_dir, encoder):
    reply = "An international transfer costs £3.50 from 1 April 2025 [2]."
    with FakeLLMServer(lambda messages: reply) as server:
        generator = _generator(data_dir, encoder, server.base_url)
        stream = generator.stream(_request())
        deltas = list(stream)
    result = stream.result
    assert len(deltas) == len(reply.split(" ")) and "".join(deltas) == reply
    assert result.text == reply and result.generator == "openai" and result.model == "fake-model"
    assert (result.tokens_in, result.tokens_out) == (123, len(reply.split(" "))) and result.priced
    sent = server.requests[0]
    assert sent["stream"] is True and sent["max_tokens"] == 64 and sent["model"] == "fake-model"
    assert sent["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "<passage number=\"2\"" in sent["messages"][-1]["content"] and QUESTION in sent["messages"][-1]["content"]


def test_not_found_reply_is_recognised(data_dir, encoder):
    from backend.generation.prompts import NOT_FOUND

    with FakeLLMServer(lambda messages: NOT_FOUND) as server:
        result = _generator(data_dir, encoder, server.base_url).stream(_request()).collect()
    assert not result.found


def test_server_down_falls_back_to_extractive_with_a_visible_notice(data_dir, encoder):
    generator = _generator(data_dir, encoder, closed_port_url(), openai_model="m")
    result = generator.stream(_request()).collect()
    assert result.generator == "extractive (fallback from openai)"
    assert result.notices and "unreachable" in result.notices[0] and "answered extractively" in result.notices[0]
    assert "£3.50" in result.text and "[2]" in result.text


def test_slow_server_times_out_and_falls_back(data_dir, encoder):
    with FakeLLMServer(behaviour="slow", delay_s=3.0) as server:
        generator = _generator(data_dir, encoder, server.base_url, timeout=0.5, retries=0, openai_model="m")
        result = generator.stream(_request()).collect()
    assert "timed out" in result.notices[0]
    assert result.generator.startswith("extractive")


def test_stalled_stream_falls_back_and_retries_are_bounded(data_dir, encoder):
    with FakeLLMServer(behaviour="hang_midstream", delay_s=3.0) as server:
        generator = _generator(data_dir, encoder, server.base_url, timeout=0.5, retries=2, openai_model="m")
        result = generator.stream(_request()).collect()
    assert "timed out" in result.notices[0]
    assert len(server.requests) == 1  # nothing is retried once tokens have streamed


def test_server_errors_are_retried_a_bounded_number_of_times(data_dir, encoder):
    with FakeLLMServer(behaviour="error") as server:
        generator = _generator(data_dir, encoder, server.base_url, retries=2, openai_model="m")
        result = generator.stream(_request()).collect()
    assert len(server.requests) == 3  # the first call and two retries
    assert "HTTP 500" in result.notices[0]


def test_complete_returns_the_text_or_a_clear_error(data_dir, encoder):
    with FakeLLMServer(lambda messages: "  What is the fee for international transfers?  ") as server:
        text = _generator(data_dir, encoder, server.base_url).complete([{"role": "user", "content": "x"}], 20)
    assert text == "What is the fee for international transfers?"
    with pytest.raises(GroundworkError, match="unreachable"):
        _generator(data_dir, encoder, closed_port_url(), openai_model="m").complete([{"role": "user", "content": "x"}], 5)


def test_vllm_without_package_or_gpu_names_the_other_choices(data_dir):
    from backend.generation.vllm_backend import VLLMGenerator

    settings = Settings(data_dir=data_dir, generator="vllm", vllm_model="Qwen/Qwen2.5-1.5B-Instruct")
    with pytest.raises(GroundworkError) as error:
        VLLMGenerator(settings)
    message = str(error.value)
    assert "generator 'vllm' needs" in message
    assert "GROUNDWORK_GENERATOR=extractive" in message and "GROUNDWORK_GENERATOR=openai" in message


def test_vllm_engine_arguments_follow_settings(data_dir):
    from backend.generation.vllm_backend import engine_arguments

    settings = Settings(data_dir=data_dir, vllm_model="m", vllm_quantization="awq", vllm_speculative_model="draft",
                        vllm_num_speculative_tokens=4)
    arguments = engine_arguments(settings)
    assert arguments["enable_prefix_caching"] is True and arguments["quantization"] == "awq"
    assert arguments["speculative_config"] == {"model": "draft", "num_speculative_tokens": 4, "method": "draft_model"}
    assert "quantization" not in engine_arguments(Settings(data_dir=data_dir, vllm_model="m"))
    with pytest.raises(GroundworkError, match="GROUNDWORK_VLLM_MODEL"):
        engine_arguments(Settings(data_dir=data_dir))
