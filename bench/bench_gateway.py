"""Gateway overhead (/api/v1/ask against in-process ask) and 20 concurrent API clients on 127.0.0.1.

    python -m bench.bench_gateway [--rounds 3] [--seconds 120] [--clients 20] [--json]   (also part of `python -m bench`)

One scratch data dir holds the demo collection and an admin key per client; a byte-for-byte copy of it serves the
in-process side, so both sides answer the same questions over the same indexes at the same time (the server
process owns one copy, this process the other). The answer cache is off on both sides, so every request runs
the whole path (retrieval, rerank, generation, PII, tracing); the rate limits are raised so the limiter counts
but never refuses (it is part of what is measured). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.results_file import save

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

GOLD = ROOT / "data" / "gold" / "demo.jsonl"
RESULTS = ROOT / "bench" / "results" / "gateway.json"  # the figures behind the README's gateway section
# Both sides run with these (environment for the server, Settings fields in process): same path, no cache hits.
SETTINGS = {"cache_enabled": False, "rate_limit_per_minute": 1_000_000, "route_limit_per_minute": 1_000_000}


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _questions() -> list[str]:
    from backend.jsonl import json_objects

    rows = [row for _, row in json_objects(GOLD.read_text(encoding="utf-8"), lambda n: f"{GOLD} line {n}")]
    return [row.get("standalone") or row["question"] for row in rows]


def _prepare(clients: int) -> tuple[Path, Path, list[str]]:
    """(the server's data dir, the in-process copy, one admin API key per client)."""
    from backend.platform import Platform
    from backend.settings import Settings

    served = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    print(f"ingesting data/demo into {served} ...", file=sys.stderr)
    with Platform(Settings(data_dir=served, **SETTINGS)) as platform:
        platform.corpus.ingest([ROOT / "data" / "demo"], collection="demo")
        platform.gateway.bootstrap(demo=False)
        keys = [platform.gateway.create_key("admin", ["read", "ask"], name=f"bench-{i}")[0] for i in range(clients)]
    in_process = served.with_name(served.name + "-in-process")
    shutil.copytree(served, in_process)
    return served, in_process, keys


class Client:
    """One keep-alive HTTP connection, as an API client holds it."""

    def __init__(self, url: str, key: str):
        import httpx

        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def ask(self, question: str) -> tuple[float, int]:
        elapsed, status, _ = self.timed_ask(question)
        return elapsed, status

    def timed_ask(self, question: str) -> tuple[float, int, dict[str, float]]:
        """(round trip ms, status, the response's Server-Timing figures: core and gateway ms)."""
        started = time.perf_counter()
        response = self.http.post("/api/v1/ask", json={"question": question, "collection": "demo"})
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, response.status_code, _timing(response.headers.get("server-timing"))

    def timed_get(self, path: str) -> float:
        started = time.perf_counter()
        self.http.get(path)
        return (time.perf_counter() - started) * 1000

    def collections(self) -> tuple[float, int]:
        started = time.perf_counter()
        response = self.http.get("/api/v1/collections")
        return (time.perf_counter() - started) * 1000, response.status_code


class PlainClient:
    """The same asks over the standard library's http.client: one keep-alive connection and nothing else, so its
    round trip is the server's and loopback's cost without a client library's own (httpx spends ~1 ms a request)."""

    def __init__(self, url: str, key: str):
        host, _, port = url.removeprefix("http://").partition(":")
        self.address = (host, int(port))
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection(*self.address, timeout=60)

    def timed(self, method: str, path: str, body: dict | None = None) -> tuple[float, int, dict[str, float]]:
        payload = json.dumps(body) if body is not None else None
        for attempt in (1, 2):  # the server closes a connection idle past its keep-alive: reconnect once
            try:
                started = time.perf_counter()
                self.connection.request(method, path, body=payload, headers=self.headers)
                response = self.connection.getresponse()
                response.read()
                return (time.perf_counter() - started) * 1000, response.status, _timing(response.getheader("server-timing"))
            except (ConnectionError, http.client.HTTPException):
                self.connection.close()
                self.connection = http.client.HTTPConnection(*self.address, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _timing(header: str | None) -> dict[str, float]:
    """Server-Timing's 'core;dur=71.2, gateway;dur=1.3' as {"core": 71.2, "gateway": 1.3}."""
    timing = {}
    for part in (header or "").split(","):
        name, _, value = part.strip().partition(";dur=")
        if value:
            timing[name] = float(value)
    return timing


def overhead(url: str, in_process: Path, key: str, questions: list[str], rounds: int) -> dict:
    """Each question asked in process, then over HTTP, alternately: the same load on the machine for both."""
    from backend.platform import Platform
    from backend.settings import Settings

    client, plain = Client(url, key), PlainClient(url, key)
    local, remote, errors = [], [], 0
    server_gateway, around_core, plain_around_core = [], [], []  # from each HTTP ask's own Server-Timing header
    with Platform(Settings(data_dir=in_process, **SETTINGS)) as platform:
        ctx = platform.gateway.context_for(platform.gateway.authenticate_key(key))
        for question in questions[:5]:  # warm both: models loaded, indexes open, first-call costs paid
            platform.chat.ask(question, "demo", ctx=ctx)
            client.ask(question)
        for _ in range(rounds):
            for question in questions:
                started = time.perf_counter()
                platform.chat.ask(question, "demo", ctx=ctx)
                local.append((time.perf_counter() - started) * 1000)
                elapsed, status, timing = client.timed_ask(question)
                remote.append(elapsed)
                errors += status != 200
                if "core" in timing:
                    server_gateway.append(timing["gateway"])
                    around_core.append(elapsed - timing["core"])
                elapsed, status, timing = plain.timed("POST", "/api/v1/ask", {"question": question, "collection": "demo"})
                errors += status != 200
                if "core" in timing:
                    plain_around_core.append(elapsed - timing["core"])
    trivial = [client.collections()[0] for _ in range(200)]  # authentication, limiter, one query, JSON
    # The client library's own share: the same trivial route through httpx and through http.client.
    health_httpx = [client.timed_get("/api/v1/health") for _ in range(200)]
    health_plain = [plain.timed("GET", "/api/v1/health")[0] for _ in range(200)]
    return {
        "requests": len(remote), "errors": errors,
        "in_process_ms": {"p50": _pct(local, 50), "p95": _pct(local, 95)},
        "http_ms": {"p50": _pct(remote, 50), "p95": _pct(remote, 95)},
        "added_ms": {"p50": round(_pct(remote, 50) - _pct(local, 50), 1), "p95": round(_pct(remote, 95) - _pct(local, 95), 1)},
        # Each HTTP ask minus the in-process ask of the same question just before it: the paired difference is
        # what the gateway adds to one request, less blurred by how long each question takes.
        "paired_added_ms": {"p50": _pct([r - q for r, q in zip(remote, local)], 50),
                            "p95": _pct([r - q for r, q in zip(remote, local)], 95)},
        "collections_route_ms": {"p50": _pct(trivial, 50), "p95": _pct(trivial, 95)},
        # Within one request, so free of how long the answer itself took: the server's own time outside the chat
        # service (auth, limiter, quota, body, JSON, usage), and the client's round trip minus the chat service's
        # time (that plus HTTP on loopback and the client library): what a caller pays for the gateway.
        "server_gateway_ms": {"p50": _pct(server_gateway, 50), "p95": _pct(server_gateway, 95)},
        "round_trip_minus_core_ms": {"p50": _pct(around_core, 50), "p95": _pct(around_core, 95)},
        "plain_round_trip_minus_core_ms": {"p50": _pct(plain_around_core, 50), "p95": _pct(plain_around_core, 95)},
        "health_ms": {"httpx": {"p50": _pct(health_httpx, 50), "p95": _pct(health_httpx, 95)},
                      "http.client": {"p50": _pct(health_plain, 50), "p95": _pct(health_plain, 95)}},
    }


def _run_clients(url: str, keys: list[str], questions: list[str], seconds: float, pace_s: float | None) -> dict:
    """len(keys) clients for `seconds`: back to back (pace_s None) or each at one request per pace_s on average
    (exponential gaps, so arrivals are Poisson like independent users)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(index: int, key: str) -> None:
        client, rng = Client(url, key), random.Random(index)
        while time.monotonic() < deadline:
            if pace_s is not None:
                time.sleep(rng.expovariate(1 / pace_s))
                if time.monotonic() >= deadline:
                    break
            try:
                elapsed, status = client.ask(rng.choice(questions))
            except Exception as exc:  # a refused or dropped connection is an error to count, not to hide
                with lock:
                    errors.append(type(exc).__name__)
                continue
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    errors.append(str(status))

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(i, key)) for i, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    return {"clients": len(keys), "seconds": round(wall, 1), "requests": len(latencies), "errors": len(errors),
            "error_kinds": sorted(set(errors)), "throughput_rps": round(len(latencies) / wall, 1),
            "p50_ms": _pct(latencies, 50), "p95_ms": _pct(latencies, 95), "p99_ms": _pct(latencies, 99)}


def concurrency(url: str, keys: list[str], questions: list[str], seconds: float) -> dict:
    single = _run_clients(url, keys[:1], questions, min(seconds, 30), None)
    saturated = _run_clients(url, keys, questions, seconds, None)
    # 20 users sharing half of what the machine can serve: the load a deployment of this size is sized for.
    pace = len(keys) / max(0.5 * saturated["throughput_rps"], 0.1)
    paced = _run_clients(url, keys, questions, seconds, pace)
    return {"single": single, "saturated": saturated, "paced": {**paced, "offered_rps": round(len(keys) / pace, 1)}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the gold questions for the overhead")
    parser.add_argument("--seconds", type=float, default=120, help="length of each concurrent run")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from tests.live_server import serve

    questions = _questions()
    served, in_process, keys = _prepare(args.clients)
    env = {f"GROUNDWORK_{name.upper()}": str(value).lower() for name, value in SETTINGS.items()}
    try:
        with serve(served, env=env) as url:
            result = {"overhead": overhead(url, in_process, keys[0], questions, args.rounds),
                      "concurrency": concurrency(url, keys, questions, args.seconds)}
    finally:
        shutil.rmtree(served, ignore_errors=True)
        shutil.rmtree(in_process, ignore_errors=True)
    save(RESULTS, result)
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    o = result["overhead"]
    print(f"\ngateway overhead over {o['requests']} asks (demo gold set, cache off, {o['errors']} errors)")
    print(f"  in-process ask   p50 {o['in_process_ms']['p50']} ms  p95 {o['in_process_ms']['p95']} ms")
    print(f"  /api/v1/ask      p50 {o['http_ms']['p50']} ms  p95 {o['http_ms']['p95']} ms")
    print(f"  added            p50 {o['added_ms']['p50']} ms  p95 {o['added_ms']['p95']} ms  (paired per question: "
          f"p50 {o['paired_added_ms']['p50']} ms, p95 {o['paired_added_ms']['p95']} ms)")
    print(f"  per request, from its Server-Timing header: the server outside the chat service p50 "
          f"{o['server_gateway_ms']['p50']} ms, p95 {o['server_gateway_ms']['p95']} ms; the round trip minus the chat "
          f"service p50 {o['round_trip_minus_core_ms']['p50']} ms, p95 {o['round_trip_minus_core_ms']['p95']} ms "
          f"with httpx, p50 {o['plain_round_trip_minus_core_ms']['p50']} ms, "
          f"p95 {o['plain_round_trip_minus_core_ms']['p95']} ms with http.client")
    h = o["health_ms"]
    print(f"  GET /api/v1/health  httpx p50 {h['httpx']['p50']} ms p95 {h['httpx']['p95']} ms; http.client "
          f"p50 {h['http.client']['p50']} ms p95 {h['http.client']['p95']} ms (the client library's own share)")
    print(f"  GET /api/v1/collections (auth, limiter, JSON)  p50 {o['collections_route_ms']['p50']} ms  "
          f"p95 {o['collections_route_ms']['p95']} ms")
    for name, run in result["concurrency"].items():
        extra = f", offered {run['offered_rps']} rps" if "offered_rps" in run else ""
        print(f"{name:>9}: {run['clients']} clients {run['seconds']} s{extra}: {run['requests']} requests, "
              f"{run['errors']} errors, {run['throughput_rps']} rps, p50 {run['p50_ms']} ms, p95 {run['p95_ms']} ms")
    return result


if __name__ == "__main__":
    main()
