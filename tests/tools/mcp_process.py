"""The MCP test server (tests/tools/mcp_test_server.py) started in a process of its own on a given port, for a test."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def mcp_server(port: int, token: str, folder: Path) -> Iterator[str]:
    """Its URL once it accepts connections; stopped on exit (its SDK's logging stays in its own process)."""
    record = folder / "bookings.jsonl"
    record.touch()
    with open(folder / "server.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.tools.mcp_test_server", str(port), token, str(record)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (folder / "server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the MCP test server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)
