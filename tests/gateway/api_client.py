"""Calls to the live server as the world's users, their JSON errors, and the leak check every scoping test makes."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import httpx

from backend.gateway import api_models as m
from tests.gateway.api_world import World
from tests.live_server import serve

FEE = "What is the fee for international transfers?"
# What each caller must never see: the other tenant's figures and names, and the acme collection alice is not granted.
GLOBEX_SIGNS = ("globex", "19 EUR", "60 days", "3 EUR")
ACME_SIGNS = ("acme", "12 EUR", "45 days", "1 EUR")
ARCHIVE_SIGNS = ("acme-archive", "7 EUR", "Acme archive")
UNSEEN = {"alice": GLOBEX_SIGNS + ARCHIVE_SIGNS, "bob": GLOBEX_SIGNS + ACME_SIGNS, "gina": ACME_SIGNS}


@dataclass
class Api:
    """The server at `client`'s base URL, called with the world's API keys by name (None: no key)."""

    client: httpx.Client
    world: World

    def __call__(self, method: str, path: str, key: str | None = None, headers: dict | None = None,
                 **kwargs) -> httpx.Response:
        auth = {"Authorization": f"Bearer {self.world.keys[key]}"} if key else {}
        return self.client.request(method, path, headers={**(headers or {}), **auth}, **kwargs)

    def ok(self, method: str, path: str, key: str, status: int = 200, **kwargs) -> dict:
        response = self(method, path, key, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def ask(self, key: str, question: str, collection: str, conversation_id: str | None = None) -> dict:
        return self.ok("POST", "/api/v1/ask", key, json={"question": question, "collection": collection,
                                                         "conversation_id": conversation_id})

    def wait_for_traces(self, key: str, count: int, timeout_s: float = 60) -> list[dict]:
        """The caller's traces once `count` are exported (the span exporter writes in the background)."""
        deadline = time.monotonic() + timeout_s
        while True:
            traces = self.ok("GET", "/api/v1/traces", key, params={"limit": 1000})["traces"]
            if len(traces) >= count or time.monotonic() > deadline:
                return traces
            time.sleep(0.3)


def api_error(response: httpx.Response, status: int) -> dict:
    """The JSON error of a response that must have `status`: its `{"message", "field"}`."""
    assert response.status_code == status, response.text
    m.ErrorBody.model_validate(response.json())
    return response.json()["error"]


def leaks(response: httpx.Response, caller: str) -> list[str]:
    """What the response shows that `caller` may not see (empty: nothing)."""
    text = response.text.lower()
    return [sign for sign in UNSEEN[caller] if sign.lower() in text]


@contextmanager
def live_api(world: World, env: dict[str, str] | None = None) -> Iterator[Api]:
    """The real server on the world's data dir (extra environment in `env`), and a client of it."""
    with serve(world.data_dir, env=env) as url, httpx.Client(base_url=url, timeout=180) as client:
        yield Api(client, world)
