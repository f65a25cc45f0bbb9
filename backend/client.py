"""The command line's HTTP client for a running Groundwork server, and the choice of whether to use one."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote, urlparse

import httpx

from backend.gateway.discovery import pid_alive, read_discovery
from backend.gateway.identity import Forbidden, RateLimited, Unauthorized
from backend.models import GroundworkError, InputError, NotFound

SERVER_ENV = "GROUNDWORK_SERVER"
KEY_ENV = "GROUNDWORK_API_KEY"
# An answer from a local model or an ingest batch can take minutes; only connecting must be quick.
TIMEOUT = httpx.Timeout(900.0, connect=10.0)
HEALTH_TIMEOUT_S = 3.0


class ServerError(GroundworkError):
    """The server answered with an error the CLI has no closer kind for (5xx, an unexpected status)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class ServerUnreachable(GroundworkError):
    """No answer from the server at all (refused, timed out, not HTTP)."""


def _message(response: httpx.Response) -> tuple[str, str | None]:
    """The API's `{"error": {"message", "field"}}`, or the body's start when a proxy or a crash answered instead."""
    try:
        error = response.json()["error"]
        return str(error["message"]), error.get("field")
    except (ValueError, KeyError, TypeError):
        text = " ".join(response.text.split())[:200]
        return text or response.reason_phrase or "no message", None


def error_for(response: httpx.Response) -> GroundworkError:
    """The GroundworkError a failed response stands for, its message "STATUS: the server's message"."""
    status = response.status_code
    text, field = _message(response)
    message = f"{status}: {text}"
    if status == 401:
        return Unauthorized(message)
    if status == 403:
        return Forbidden(message)
    if status == 404:
        return NotFound(message, field=field)
    if status == 429:
        retry = response.headers.get("retry-after", "")
        retry_after = int(retry) if retry.isdigit() else 1
        return RateLimited(f"{message} (retry after {retry_after} s)", retry_after)
    if status in (400, 409, 413, 422):
        return InputError(message, field=field)
    return ServerError(message, status)


class ServerClient:
    """JSON over HTTP with the key as a bearer token; every failure raises a GroundworkError (never the key in it)."""

    def __init__(self, url: str, key: str, timeout: httpx.Timeout = TIMEOUT, trust_env: bool = True):
        self.url = url.rstrip("/")
        # No redirects: a redirect to another host would carry the key there.
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {key}"},
                                  follow_redirects=False, trust_env=trust_env)

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"cannot reach the server at {self.url}: {exc or type(exc).__name__}") from None
        if response.status_code >= 400:
            raise error_for(response)
        try:
            return response.json()
        except ValueError:
            raise ServerError(f"{response.status_code}: the server at {self.url} did not answer {path} with JSON",
                              response.status_code) from None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._send("GET", path, params={k: v for k, v in (params or {}).items() if v is not None})

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._send("POST", path, json={k: v for k, v in body.items() if v is not None})

    def upload(self, path: str, files: Sequence[Path]) -> Any:
        """POST the files as multipart form parts named `file`, in one request."""
        handles = [open(file, "rb") for file in files]
        try:
            parts = [("file", (file.name, handle, "application/octet-stream")) for file, handle in zip(files, handles)]
            return self._send("POST", path, files=parts)
        finally:
            for handle in handles:
                handle.close()


def parse_time(value: Any) -> Any:
    """An RFC 3339 time from the API as the naive UTC datetime the tables hold (what a local run prints)."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def segment(name: str) -> str:
    """A collection name or id as one path segment (a '/' or '?' in it must not change the route)."""
    return quote(str(name), safe="")


def answers_health(url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/v1/health", timeout=timeout_s, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@dataclass(frozen=True)
class Server:
    """The server a command talks to instead of opening the DuckDB file."""

    url: str
    key: str
    discovered: bool  # found through the data dir's server.json (else given by --server or GROUNDWORK_SERVER)

    def client(self) -> ServerClient:
        # The local server is on loopback: an HTTP(S)_PROXY meant for the outside must not be asked to reach it.
        return ServerClient(self.url, self.key, trust_env=not self.discovered)


def _checked_url(url: str, given_by: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"{given_by}: {url!r} is not a server URL such as http://127.0.0.1:8501", field=given_by)
    return url.rstrip("/")


def choose_server(flag: str | None, data_dir: Path, environ: Mapping[str, str] | None = None) -> Server | None:
    """Where a command goes: the server of --server or GROUNDWORK_SERVER (with GROUNDWORK_API_KEY); else the data
    dir's running server (server.json of a live process that answers its health check); else None: the file itself."""
    environ = os.environ if environ is None else environ
    given_by = "--server" if flag else SERVER_ENV
    url = (flag or environ.get(SERVER_ENV, "")).strip()
    if url:
        url = _checked_url(url, given_by)
        key = environ.get(KEY_ENV, "").strip()
        if not key:
            raise InputError(f"{KEY_ENV}: set it to an API key of the server at {url} (given by {given_by}); "
                             "an admin creates keys on the Admin page", field=KEY_ENV)
        return Server(url, key, discovered=False)
    found = read_discovery(data_dir)
    if found is None or not pid_alive(found.pid) or not answers_health(found.url):
        return None  # no server, or a stale file a killed server left: the file is free (or says who holds it)
    return Server(found.url, found.key, discovered=True)
