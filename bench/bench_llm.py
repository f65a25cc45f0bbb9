"""SmolLM2-135M-Instruct on llama-cpp-python here: tokens per second and time to first token, short and RAG-sized prompts.

    python -m bench.bench_llm [--runs N] [--rag-runs N] [--max-tokens T] [--json]   (also in `python -m bench`)

Starts the server (backend/generation/llm_server.py) on a free 127.0.0.1 port and streams completions through
the `openai` client at temperature 0: short questions, and Chat's answer prompt over three demo documents.
Decode speed counts the streamed content deltas after the first (llama.cpp streams one token per delta) over
the time after the first; end-to-end tokens/s is completion tokens over the whole call, prompt included.
Skips with a message when llama-cpp-python is missing. Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.results_file import save

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.generation.llm_server import SERVER_INSTALL, LLMServer, server_installed  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "llm.json"
SHORT_QUESTIONS = ["What is a bank transfer?", "Why do banks charge fees?", "What is a refund?", "What is a password for?",
                   "What does a savings account do?", "Why keep records?", "What is a complaint?", "What is an overdraft?"]


def _rag_prompts(runs: int) -> list[list[dict]]:
    """Chat's answer prompt over three demo documents per run (about Chat's default 1,500 context tokens), a
    different three each run: only the system prompt is then a prefix llama.cpp can reuse, as between real questions."""
    from backend.generation.prompts import answer_messages
    from tests.generation.samples import make_passages

    documents = sorted(p for p in (ROOT / "data" / "demo").iterdir() if p.suffix == ".md")
    prompts = []
    for run in range(runs):
        chosen = [documents[(3 * run + i) % len(documents)] for i in range(3)]
        passages = make_passages(*[path.read_text()[:1600] for path in chosen], titles=[path.stem for path in chosen])
        prompts.append(answer_messages("What does this policy require?", passages, "", []))
    return prompts


def _stream_once(client, model: str, messages: list[dict], max_tokens: int) -> dict:
    began = time.perf_counter()
    first = None
    deltas = 0
    stream = client.chat.completions.create(model=model, messages=messages, stream=True, temperature=0,
                                            max_tokens=max_tokens)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
            deltas += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    first = first or end
    # The same prompt again, unstreamed and 1 token long, is all prefix cache: its usage gives the prompt's size.
    usage = client.chat.completions.create(model=model, messages=messages, max_tokens=1, temperature=0).usage
    return {"ttft_ms": (first - began) * 1000, "tokens": deltas, "total_s": end - began,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "decode_tps": (deltas - 1) / (end - first) if deltas > 1 and end > first else 0.0}


def _summary(runs: list[dict]) -> dict:
    ttft = [r["ttft_ms"] for r in runs]
    tokens = sum(r["tokens"] for r in runs)
    return {
        "runs": len(runs), "completion_tokens": tokens,
        "prompt_tokens_median": int(np.median([r["prompt_tokens"] for r in runs])),
        "ttft_p50_ms": round(float(np.percentile(ttft, 50)), 1), "ttft_p95_ms": round(float(np.percentile(ttft, 95)), 1),
        "decode_tokens_per_s": round(float(np.median([r["decode_tps"] for r in runs])), 1),
        "end_to_end_tokens_per_s": round(tokens / sum(r["total_s"] for r in runs), 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_llm", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="completions of short prompts (default 10)")
    parser.add_argument("--rag-runs", type=int, default=5, help="completions of Chat-sized prompts (default 5)")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens per completion (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (default 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not server_installed():
        print(f"bench_llm skipped: llama-cpp-python is not installed ({SERVER_INSTALL}, or `make llm`)")
        return {}
    import openai

    prompts = {"short": [[{"role": "user", "content": SHORT_QUESTIONS[i % len(SHORT_QUESTIONS)] + " One sentence."}]
                         for i in range(args.runs)],
               "rag": _rag_prompts(args.rag_runs)}
    started = time.perf_counter()
    with LLMServer(n_threads=args.threads) as server:
        startup_s = time.perf_counter() - started
        client = openai.OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=600)
        figures: dict = {"model": server.model.name, "threads": args.threads, "max_tokens": args.max_tokens,
                         "server_startup_s": round(startup_s, 2)}
        _stream_once(client, server.alias, [{"role": "user", "content": "Hello."}], 4)  # warm-up: first-call allocations
        for name, runs in prompts.items():
            figures[name] = _summary([_stream_once(client, server.alias, messages, args.max_tokens) for messages in runs])
    save(RESULTS, figures)
    if args.json:
        print(json.dumps(figures))
        return figures
    print(f"\nLLM: {figures['model']} on llama-cpp-python, {args.threads} threads, {args.max_tokens} tokens per completion "
          f"(server up in {figures['server_startup_s']} s)")
    for name in prompts:
        s = figures[name]
        label = f"{name} x{s['runs']} (~{s['prompt_tokens_median']} prompt tokens)"
        print(f"  {label:<34} decode {s['decode_tokens_per_s']:6.1f} tok/s   end-to-end {s['end_to_end_tokens_per_s']:6.1f} tok/s"
              f"   TTFT p50 {s['ttft_p50_ms']:8.1f} ms  p95 {s['ttft_p95_ms']:8.1f} ms")
    print(f"  written to {RESULTS.relative_to(ROOT)}")
    return figures


if __name__ == "__main__":
    main()
