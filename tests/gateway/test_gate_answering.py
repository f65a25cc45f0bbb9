"""The API computes at most api_answer_concurrency answers at once; the rest wait their turn in arrival order."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import anyio

from backend.gateway.gate import Gate
from backend.settings import Settings


def test_answers_beyond_the_limit_wait_in_arrival_order(tmp_path):
    platform = SimpleNamespace(settings=Settings(data_dir=tmp_path, api_answer_concurrency=2))
    gate = Gate(lambda: platform)
    lock, running, peak, finished = threading.Lock(), [0], [0], []

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
            finished.append(n)
        return n * 10

    async def main() -> list[int]:
        results: list[int] = []

        async def one(n: int) -> None:
            results.append(await gate.answering(lambda: work(n)))

        async with anyio.create_task_group() as group:
            for n in range(6):
                group.start_soon(one, n)
                await anyio.sleep(0.005)  # arrivals in this order
        return results

    results = anyio.run(main)
    assert sorted(results) == [0, 10, 20, 30, 40, 50]
    assert peak[0] == 2
    assert sorted(finished[:2]) == [0, 1]  # the first two to arrive ran first
    assert sorted(finished[2:4]) == [2, 3] and sorted(finished[4:]) == [4, 5]
