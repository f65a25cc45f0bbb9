"""Generator on the in-process vLLM engine (GPU only): prefix caching on, speculative decoding and quantization from settings."""
from __future__ import annotations

import importlib
import threading
from typing import Any

from backend.generation.base import Generation, GenerationRequest, GenerationStream
from backend.generation.prompts import NOT_FOUND, answer_messages
from backend.models import GroundworkError
from backend.settings import Settings

OTHER_CHOICES = (
    "choose GROUNDWORK_GENERATOR=extractive (no model weights, runs anywhere) or "
    "GROUNDWORK_GENERATOR=openai with GROUNDWORK_OPENAI_BASE_URL pointing at an OpenAI-compatible server "
    "(`vllm serve` on a GPU machine, Ollama, llama.cpp server or a hosted API)"
)


def _import_vllm():
    try:
        return importlib.import_module("vllm")
    except ImportError:
        raise GroundworkError(
            "generator 'vllm' needs the vllm package and an NVIDIA GPU (pip install -r requirements-gpu.txt); "
            + OTHER_CHOICES
        ) from None


def _require_gpu() -> None:
    import torch

    if not torch.cuda.is_available():
        raise GroundworkError("generator 'vllm' needs an NVIDIA GPU and none is visible to torch; " + OTHER_CHOICES)


def engine_arguments(settings: Settings) -> dict:
    """Keyword arguments of vllm.LLM for these settings (kept separate so they can be checked without a GPU)."""
    if not settings.vllm_model:
        raise GroundworkError("generator 'vllm' needs GROUNDWORK_VLLM_MODEL (a model path or id); " + OTHER_CHOICES)
    arguments = {
        "model": settings.vllm_model,
        # The system prompt and passage framing repeat across requests: their KV cache is reused.
        "enable_prefix_caching": True,
        "gpu_memory_utilization": settings.vllm_gpu_memory_utilization,
    }
    if settings.vllm_quantization:
        arguments["quantization"] = settings.vllm_quantization
    if settings.vllm_speculative_model:
        arguments["speculative_config"] = {
            "model": settings.vllm_speculative_model,
            "num_speculative_tokens": settings.vllm_num_speculative_tokens,
            "method": "draft_model",
        }
    return arguments


_ENGINES: dict[str, Any] = {}  # vllm.LLM by configuration (vllm is imported only when used)
_ENGINE_LOCK = threading.Lock()


class VLLMGenerator:
    name = "vllm"
    is_llm = True

    def __init__(self, settings: Settings):
        self.settings = settings
        arguments = engine_arguments(settings)
        self._vllm = _import_vllm()
        _require_gpu()
        key = repr(sorted(arguments.items()))
        with _ENGINE_LOCK:  # loading weights takes minutes and GPU memory: one engine per configuration
            if key not in _ENGINES:
                _ENGINES[key] = self._vllm.LLM(**arguments)
        self.llm = _ENGINES[key]
        self.model = settings.vllm_model
        # The offline LLM schedules (continuous batching) only the prompts of one call; calls are serialised.
        self._call_lock = threading.Lock()

    def _sampling(self, max_tokens: int):
        return self._vllm.SamplingParams(temperature=0.0, max_tokens=max_tokens)

    def _chat(self, messages: list[dict], max_tokens: int):
        with self._call_lock:
            outputs = self.llm.chat([messages], self._sampling(max_tokens), use_tqdm=False)
        return outputs[0]

    def stream(self, request: GenerationRequest) -> GenerationStream:
        return GenerationStream(self._run(request))

    def _run(self, request: GenerationRequest):
        messages = answer_messages(request.question, request.passages, request.summary, request.history,
                                   request.tool_results)
        output = self._chat(messages, request.max_tokens)
        completion = output.outputs[0]
        text = completion.text.strip()
        yield text
        return Generation(
            text=text, generator=self.name, model=self.model,
            tokens_in=len(output.prompt_token_ids or []), tokens_out=len(completion.token_ids or []),
            found=not text.startswith(NOT_FOUND[:26]), priced=True,
        )

    def complete(self, messages: list[dict], max_tokens: int) -> str:
        return self._chat(messages, max_tokens).outputs[0].text.strip()
