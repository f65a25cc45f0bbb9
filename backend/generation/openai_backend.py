"""Generator over any OpenAI-compatible server (vllm serve, Ollama, llama.cpp, hosted): streamed, bounded, with fallback."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, cast

import httpx
import openai

from backend.generation.base import Generation, GenerationRequest, GenerationStream
from backend.generation.prompts import NOT_FOUND, answer_messages
from backend.models import GroundworkError
from backend.settings import Settings
from backend.text.sentences import count_tokens

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

CONNECT_TIMEOUT_S = 3.0  # a server that does not accept a connection in 3 s is down for our purposes


def _chat_messages(messages: list[dict]) -> list[ChatCompletionMessageParam]:
    """Our prompts' {"role", "content"} dicts, as the typed messages the client declares (same objects)."""
    return cast("list[ChatCompletionMessageParam]", messages)


def _reason(exc: BaseException, timeout_s: float, midway: bool = False) -> str:
    if isinstance(exc, (openai.APITimeoutError, TimeoutError, httpx.TimeoutException)):
        return f"timed out after {timeout_s:g} s (GROUNDWORK_OPENAI_TIMEOUT_S)"
    if midway and isinstance(exc, (httpx.TransportError, openai.APIConnectionError)):
        return "closed the connection mid-answer"  # a crashed or killed server: what it streamed is discarded
    if isinstance(exc, openai.APIConnectionError):
        return "is unreachable"
    if isinstance(exc, openai.APIStatusError):
        return f"answered HTTP {exc.status_code}"
    return f"failed ({type(exc).__name__})"


class OpenAIGenerator:
    name = "openai"
    is_llm = True

    def __init__(self, settings: Settings, fallback):
        self.settings = settings
        self.fallback = fallback
        self.base_url = settings.openai_base_url
        self.total_timeout_s = settings.openai_timeout_s
        # The client retries connection errors, timeouts, 429 and 5xx with backoff, at most max_retries times;
        # nothing is retried once tokens have started to stream.
        self.client = openai.OpenAI(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key or "not-needed",
            timeout=httpx.Timeout(settings.openai_timeout_s, connect=min(CONNECT_TIMEOUT_S, settings.openai_timeout_s)),
            max_retries=settings.openai_max_retries,
        )
        self._model = settings.openai_model
        self._model_lock = threading.Lock()

    def model(self) -> str:
        """The configured model, or the server's first model when none is configured (vllm serve has one)."""
        with self._model_lock:
            if not self._model:
                models = [m.id for m in self.client.models.list()]
                if not models:
                    raise GroundworkError(f"the server at {self.base_url} lists no models; set GROUNDWORK_OPENAI_MODEL")
                self._model = models[0]
            return self._model

    def stream(self, request: GenerationRequest) -> GenerationStream:
        return GenerationStream(self._run(request))

    def _run(self, request: GenerationRequest):
        messages = answer_messages(request.question, request.passages, request.summary, request.history,
                                   request.tool_results)
        produced: list[str] = []
        usage = None
        deltas = 0  # content deltas streamed: the completion tokens of a server that reports no usage
        model = self._model
        try:
            model = self.model()
            deadline = time.monotonic() + self.total_timeout_s
            stream = self.client.chat.completions.create(
                model=model, messages=_chat_messages(messages), stream=True, temperature=0,
                max_tokens=request.max_tokens, stream_options={"include_usage": True},
            )
            try:
                for chunk in stream:
                    if getattr(chunk, "usage", None):
                        usage = chunk.usage
                    if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                        delta = chunk.choices[0].delta.content
                        produced.append(delta)
                        deltas += 1
                        yield delta
                    if time.monotonic() > deadline:  # a server trickling tokens forever must not hang the request
                        raise TimeoutError("stream exceeded the total timeout")
            finally:
                stream.close()
            if not "".join(produced).strip():
                raise GroundworkError("empty answer")
        except Exception as exc:  # any failure of the external server falls back; it never fails the request
            notice = f"LLM server at {self.base_url} {_reason(exc, self.total_timeout_s, bool(produced))}: answered extractively instead."
            if produced:
                yield "\n\n"
            fallback = self.fallback.stream(request)
            yield from fallback
            result = fallback.result
            result.notices.insert(0, notice)
            result.generator = f"{self.fallback.name} (fallback from {self.name})"
            return result
        text = "".join(produced).strip()
        # llama-cpp-python's server ignores stream_options and streams no usage, but it streams one delta per
        # token; its prompt tokens are then estimated.
        tokens_in = getattr(usage, "prompt_tokens", None) or sum(count_tokens(m["content"]) for m in messages)
        tokens_out = getattr(usage, "completion_tokens", None) or deltas or count_tokens(text)
        return Generation(
            text=text, generator=self.name, model=model, tokens_in=int(tokens_in), tokens_out=int(tokens_out),
            found=not text.startswith(NOT_FOUND[:26]), priced=True,
        )

    def complete(self, messages: list[dict], max_tokens: int) -> str:
        try:
            response = self.client.chat.completions.create(
                model=self.model(), messages=_chat_messages(messages), temperature=0, max_tokens=max_tokens, stream=False,
            )
        except openai.OpenAIError as exc:
            raise GroundworkError(f"LLM server at {self.base_url} {_reason(exc, self.total_timeout_s)}") from None
        content = response.choices[0].message.content if response.choices else ""
        return (content or "").strip()
