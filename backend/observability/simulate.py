"""Traffic replay: questions from a file driven through the real hot path in-process, paced, bounded."""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from backend.models import GroundworkError, InputError

MAX_RATE_QPS = 50.0
MAX_DURATION_S = 3600.0
MAX_REQUESTS = 20_000
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def load_questions(path: Path | str) -> list[str]:
    """One question per line ('#' comments and blank lines skipped), or JSONL / a JSON list with `question`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: questions file not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    questions: list[str] = []
    if path.suffix in (".jsonl", ".json"):
        try:
            records = json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        for i, record in enumerate(records, start=1):
            question = record.get("question") if isinstance(record, dict) else record
            if not isinstance(question, str):
                raise InputError(f"{path}: record {i} has no string field 'question'")
            questions.append(question)
    else:
        questions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    questions = [q for q in questions if q.strip()]
    if not questions:
        raise InputError(f"{path}: no questions in the file")
    return questions


def check_bounds(rate: float, duration: float) -> int:
    """The number of requests the replay will send; bad bounds raise InputError naming the option."""
    if not 0 < rate <= MAX_RATE_QPS:
        raise InputError(f"--rate: {rate} is out of range (0 < QPS <= {MAX_RATE_QPS:g})")
    if not 0 < duration <= MAX_DURATION_S:
        raise InputError(f"--duration: {duration} is out of range (0 < seconds <= {MAX_DURATION_S:g})")
    return max(1, min(MAX_REQUESTS, int(rate * duration)))


def check_loopback(settings) -> None:
    """Replayed traffic must never reach a remote model server (cost, data): only loopback URLs pass."""
    if settings.generator != "openai":
        return
    host = urlparse(settings.openai_base_url).hostname or ""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise InputError(
            f"GROUNDWORK_OPENAI_BASE_URL: simulate only drives a loopback model server, not {host!r}; "
            "use the extractive generator or a local server")


@dataclass
class ReplayReport:
    planned: int
    sent: int = 0
    ok: int = 0
    errors: int = 0
    cache_hits: int = 0
    not_found: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_messages: dict[str, int] = field(default_factory=dict)
    trace_ids: list[str] = field(default_factory=list)

    @property
    def achieved_qps(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    def to_dict(self) -> dict:
        return {
            "planned": self.planned, "sent": self.sent, "ok": self.ok, "errors": self.errors,
            "cache_hits": self.cache_hits, "not_found": self.not_found, "elapsed_s": round(self.elapsed_s, 3),
            "achieved_qps": round(self.achieved_qps, 3), "p50_ms": self.percentile(0.5), "p95_ms": self.percentile(0.95),
            "error_messages": self.error_messages, "traces": len(self.trace_ids),
        }


def replay(
    ask: Callable[[str], object],
    questions: list[str],
    rate: float,
    duration: float,
    seed: int = 0,
    shuffle: bool = True,
    progress: Callable[[ReplayReport], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Send questions at `rate` per second (open-loop schedule) until `duration` or the request cap.

    One request at a time: a slow pipeline falls behind the schedule and the report says so
    (achieved_qps), rather than piling up threads on two cores.
    """
    planned = check_bounds(rate, duration)
    order = random.Random(seed)
    report = ReplayReport(planned=planned)
    start = clock()
    deadline = start + duration
    for i in range(planned):
        target = start + i / rate
        now = clock()
        if target > now:
            if target >= deadline:
                break
            sleep(target - now)
        elif now >= deadline:
            break
        question = order.choice(questions) if shuffle else questions[i % len(questions)]
        began = clock()
        report.sent += 1
        try:
            answer = ask(question)
        except GroundworkError as exc:  # bad input or a failing stage: counted, the replay goes on
            report.errors += 1
            key = str(exc)[:120]
            report.error_messages[key] = report.error_messages.get(key, 0) + 1
        except Exception as exc:  # noqa: BLE001 - the trace recorded it; a replay reports, it does not stop
            report.errors += 1
            key = f"{type(exc).__name__}: {exc}"[:120]
            report.error_messages[key] = report.error_messages.get(key, 0) + 1
        else:
            report.ok += 1
            report.latencies_ms.append((clock() - began) * 1000.0)
            report.cache_hits += bool(getattr(answer, "cached", False))
            report.not_found += not getattr(answer, "found", True)
            trace_id = getattr(answer, "trace_id", "")
            if trace_id:
                report.trace_ids.append(trace_id)
        if progress is not None:
            progress(report)
    report.elapsed_s = clock() - start
    return report
