"""How the command line finds the running server of its data dir: `<data_dir>/server.json` (URL, pid, an API key)."""
from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from backend.gateway.service import Gateway

logger = logging.getLogger(__name__)
FILE_NAME = "server.json"
KEY_NAME = "local-cli"
ACTOR = "server"


@dataclass(frozen=True)
class Discovered:
    """What server.json says: where the server listens, which process it is, and the key the CLI may use."""

    url: str
    pid: int
    key: str


def discovery_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE_NAME


def _is_uvicorn(argv: Sequence[str]) -> bool:
    program = Path(argv[0]) if argv else Path()
    return program.name == "uvicorn" or (program.name == "__main__.py" and program.parent.name == "uvicorn")


def _url_host(host: str) -> str:
    # A server bound to every interface is reached locally on loopback; an IPv6 literal needs brackets in a URL.
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def listen_url(argv: Sequence[str] | None = None) -> str | None:
    """The URL uvicorn will listen on, or None when this process is not uvicorn on a known TCP port.

    The lifespan runs before uvicorn binds its socket, so the address comes from uvicorn's own command line,
    parsed by uvicorn's own parser (its defaults and UVICORN_HOST/UVICORN_PORT included)."""
    argv = list(sys.argv if argv is None else argv)
    if not _is_uvicorn(argv):
        return None
    import click
    from uvicorn.main import main as uvicorn_command

    try:
        params = uvicorn_command.make_context("uvicorn", argv[1:]).params
    except (click.exceptions.ClickException, click.exceptions.Exit):
        return None
    # A Unix socket, an inherited file descriptor or port 0 (chosen at bind time) have no address to write now.
    if params.get("uds") or params.get("fd") is not None or not params.get("port"):
        return None
    scheme = "https" if params.get("ssl_certfile") else "http"
    return f"{scheme}://{_url_host(str(params.get('host') or ''))}:{int(params['port'])}"


def read_discovery(data_dir: Path) -> Discovered | None:
    """The data dir's server.json, or None when there is none or it is not one this module wrote."""
    try:
        data = json.loads(discovery_path(data_dir).read_text(encoding="utf-8"))
        found = Discovered(url=str(data["url"]), pid=int(data["pid"]), key=str(data["key"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return found if found.url and found.key else None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by this user only, atomically: a reader sees the old file or the whole new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    # O_EXCL with 0600 from the start: the key is never in a file anyone else could open, even for a moment.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _revoke_leftovers(gateway: Gateway) -> None:
    from backend.gateway.accounts import ADMIN

    for key in gateway.list_keys(user=ADMIN):
        if key["name"] == KEY_NAME and key["status"] == "active":
            gateway.revoke_key(key["id"], actor=ACTOR)


def publish(gateway: Gateway, data_dir: Path, url: str | None) -> int | None:
    """At server start: revoke the local-cli keys an earlier run left (one killed before its shutdown), and, when the
    URL is known, write server.json with a fresh local-cli key; returns that key's id (None when nothing was written).

    The key is an admin key with every scope, for whoever runs the CLI on this machine. That grants nothing new:
    server.json is as private as the data dir, and whoever can read the data dir can read the DuckDB file anyway.
    The key is stored hashed like every key, and is never printed or logged."""
    from backend.gateway.accounts import ADMIN
    from backend.gateway.identity import SCOPES

    path = discovery_path(data_dir)
    # This process holds the DuckDB file's lock, so no other server of this data dir runs: any server.json is stale.
    path.unlink(missing_ok=True)
    _revoke_leftovers(gateway)
    if url is None:
        return None
    raw, row = gateway.create_key(ADMIN, SCOPES, name=KEY_NAME, actor=ACTOR)
    try:
        _write_private(path, json.dumps({"url": url, "pid": os.getpid(), "key": raw,
                                         "started_at": datetime.now().astimezone().isoformat(timespec="seconds")}))
    except BaseException:
        gateway.revoke_key(row["id"], actor=ACTOR)
        raise
    return int(row["id"])


def withdraw(gateway: Gateway, data_dir: Path, key_id: int | None) -> None:
    """At shutdown: remove this process's server.json first (so no CLI picks up a dead key), then revoke the key."""
    found = read_discovery(data_dir)
    if found is not None and found.pid == os.getpid():
        discovery_path(data_dir).unlink(missing_ok=True)
    if key_id is not None:
        gateway.revoke_key(key_id, actor=ACTOR)
