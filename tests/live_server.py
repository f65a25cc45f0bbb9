"""The real server (the Makefile's `app` target: uvicorn on components.asgi:app) on a free loopback port, for tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(port: int) -> list[str]:
    """The Makefile's SERVE command (what `make app` runs) on 127.0.0.1:port."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("SERVE = $(PYTHON) -m "):
            flags = line.removeprefix("SERVE = $(PYTHON) -m ").split()
            return [sys.executable, "-m", *flags, "--host", "127.0.0.1", "--port", str(port)]
    raise AssertionError("Makefile: no `SERVE = $(PYTHON) -m ...` line")


@contextmanager
def serve(data_dir: Path, env: dict[str, str] | None = None, timeout_s: float = 120) -> Iterator[str]:
    """Start the server on `data_dir` (extra environment in `env`), yield its URL once /api/v1/health answers (the
    Streamlit runtime and the platform are both up), and stop it afterwards; its log is data_dir/server-PORT.log."""
    port = free_port()
    environment = {**os.environ, "GROUNDWORK_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **(env or {})}
    log_path = data_dir / f"server-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(server_command(port), cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited ({proc.returncode}); log: {log_path.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start in {timeout_s:.0f} s; log: {log_path.read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            stop(proc, 15)


def stop(proc: subprocess.Popen, grace_s: float = 10) -> None:
    """Terminate a child server, and kill it if it has not exited after `grace_s`."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
