"""One contract for every generator the factory knows: built-ins that can run here, and a fake registered like a plugin."""
from __future__ import annotations

import importlib.util
import re

import pytest

from backend.generation.base import Generation, GenerationRequest, Generator
from backend.generation.factory import build_generator, generator_names
from backend.generation.prompts import NOT_FOUND
from backend.models import GroundworkError, InputError
from backend.settings import Settings
from tests.contracts.conftest import FAKE_GENERATOR
from tests.contracts.fakes import toy_llm_reply
from tests.generation.openai_server import FakeLLMServer
from tests.generation.samples import FEES, REFUNDS, make_passages


def _vllm_runs_here() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


# Collected before the fakes fixture registers anything: the built-ins, plus the fake added by name.
NAMES = [*generator_names(), FAKE_GENERATOR]
NEEDS_HARDWARE = {"vllm": _vllm_runs_here}
RUNNABLE = [n for n in NAMES if NEEDS_HARDWARE.get(n, lambda: True)()]
UNAVAILABLE = [n for n in NAMES if n not in RUNNABLE]

ANSWERABLE = "How much does an international transfer cost?"
UNANSWERABLE = "Who won the football world cup in 1966?"
NUMBERS = (4, 9)  # not 1..n: a backend that invents its own numbering cites passages it was not given
_MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def llm_server():
    """A local OpenAI-compatible streaming server whose 'model' answers from the prompt's passages."""
    with FakeLLMServer(toy_llm_reply) as server:
        yield server


def _settings(name: str, data_dir, llm_server) -> Settings:
    overrides = {
        "openai": {"openai_base_url": llm_server.base_url, "openai_timeout_s": 5.0, "openai_max_retries": 0},
        "vllm": {"vllm_model": "Qwen/Qwen2.5-0.5B-Instruct"},
    }.get(name, {})
    return Settings(data_dir=data_dir, **overrides)


@pytest.fixture(params=RUNNABLE)
def generator(request, data_dir, encoder, llm_server) -> Generator:
    return build_generator(_settings(request.param, data_dir, llm_server), encoder, request.param)


def _passages(*texts):
    passages = make_passages(*texts)
    for passage, number in zip(passages, NUMBERS):
        passage.number = number
    return passages


def _run(generator, question, passages) -> tuple[list[str], Generation]:
    stream = generator.stream(GenerationRequest(question, passages, max_tokens=80))
    deltas = list(stream)
    return deltas, stream.result


def test_every_registered_name_is_under_contract():
    assert set(generator_names()) == set(NAMES)  # the fake went in through the factory like any plugin
    assert set(RUNNABLE) | set(UNAVAILABLE) == set(NAMES)


def test_is_a_generator_built_once_per_configuration(generator, data_dir, encoder, llm_server):
    assert isinstance(generator, Generator) and isinstance(generator.is_llm, bool)
    assert build_generator(_settings(generator.name, data_dir, llm_server), encoder, generator.name) is generator


def test_streams_deltas_that_join_into_the_final_text(generator):
    stream = generator.stream(GenerationRequest(ANSWERABLE, _passages(REFUNDS, FEES), max_tokens=80))
    chunks = iter(stream)
    first = next(chunks)
    assert stream.result is None  # the result is known only once the stream is exhausted: it really streams
    deltas = [first, *chunks]
    result = stream.result
    assert isinstance(result, Generation) and all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas).strip() == result.text and result.text
    assert result.generator == generator.name  # no silent fallback to another backend


def test_reports_tokens_and_whether_they_were_priced(generator):
    _, result = _run(generator, ANSWERABLE, _passages(REFUNDS, FEES))
    assert result.tokens_in > 0 and result.tokens_out > 0
    assert result.priced is generator.is_llm


def test_answers_from_the_passage_that_holds_the_answer_and_cites_it(generator):
    _, result = _run(generator, ANSWERABLE, _passages(REFUNDS, FEES))
    assert result.found and "£3.50" in result.text
    cited = {int(n) for n in _MARKER.findall(result.text)}
    assert cited and cited <= set(NUMBERS)  # only passages it was given
    assert 9 in cited  # FEES, numbered 9, is where the figure is


@pytest.mark.parametrize("question, texts", [(UNANSWERABLE, (FEES, REFUNDS)), (ANSWERABLE, ())],
                         ids=["unrelated-passages", "no-passages"])
def test_says_not_found_when_the_passages_do_not_answer(generator, question, texts):
    deltas, result = _run(generator, question, _passages(*texts))
    assert result.found is False and result.text.startswith(NOT_FOUND[:26])
    assert not _MARKER.search(result.text)  # nothing to cite
    assert "".join(deltas).strip() == result.text


def test_complete_answers_only_on_a_language_model(generator):
    messages = [{"role": "user", "content": "Rewrite: what does it cost?"}]
    if generator.is_llm:
        text = generator.complete(messages, 20)
        assert isinstance(text, str) and text and text == text.strip()
    else:
        with pytest.raises(GroundworkError):
            generator.complete(messages, 20)


@pytest.mark.parametrize("name", UNAVAILABLE)
def test_unavailable_backend_fails_with_a_hint_naming_the_other_choices(name, data_dir, encoder, llm_server):
    with pytest.raises(GroundworkError) as error:
        build_generator(_settings(name, data_dir, llm_server), encoder, name)
    message = str(error.value)
    assert f"generator {name!r} needs" in message
    assert "GROUNDWORK_GENERATOR=extractive" in message and "GROUNDWORK_GENERATOR=openai" in message


def test_unknown_name_lists_the_registered_ones(data_dir, encoder):
    with pytest.raises(InputError, match=rf"choose one of: .*{FAKE_GENERATOR}"):
        build_generator(Settings(data_dir=data_dir), encoder, "gpt-local")
