"""The time an ingest run has left, estimated from the rates measured in the run itself."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

_READING = ("reading", "ocr", "chunking", "personal data")  # a file's steps before its chunks are known


@dataclass
class _File:
    size: int
    kind: str  # its extension: reading rates are per kind (a PDF reads slower per byte than Markdown)
    step: str = ""
    done: int = 0
    total: int | None = None
    chunks: int | None = None  # known once chunked (the `loaded` event)
    read_seconds: float = 0.0  # spent in its reading steps
    read: bool = False  # its reading steps are over
    finished: bool = False


class TimeLeft:
    """The time an ingest run has left, from rates measured in this run only: reading seconds per byte and chunks
    per byte of the files of the same kind (extension) read so far, OCR seconds per page, embedding and writing
    seconds per chunk.

    Fed every event of the run with the time it arrived (`observe`). The pipeline does one thing at a time, so
    the time between two events belongs to the step the first one started; `stages` sums it per step.
    """

    def __init__(self, sizes: dict[str, int]):
        self._files = {path: _File(size, PurePath(path).suffix.lower()) for path, size in sizes.items()}
        self.stages: dict[str, float] = {}
        self._running: tuple[str, str] | None = None  # (path, step) under way since _since
        self._since: float | None = None
        self._embedded = self._ocr_pages = self._written = 0
        # per kind: [bytes read, seconds reading them], [bytes chunked, their chunks]
        self._reads: dict[str, list[float]] = {}
        self._chunkings: dict[str, list[float]] = {}

    def observe(self, event, now: float) -> None:
        if self._running is not None and self._since is not None:
            path, step = self._running
            self.stages[step] = self.stages.get(step, 0.0) + now - self._since
            if step in _READING and path in self._files:
                self._files[path].read_seconds += now - self._since
        self._since, self._running = now, None
        file = self._files.get(event.path)
        if file is None:
            return
        if event.kind == "loaded":
            file.chunks = event.chunks
            self._read_done(file)
        elif event.kind == "file":
            self._read_done(file)
            file.finished = True
        elif event.kind == "step":
            self._step(event.path, file, event.step, event.done, event.total)

    def _step(self, path: str, file: _File, step: str, done: int, total: int | None) -> None:
        before = file.done if file.step == step else 0
        if step == "embedding":
            self._embedded += max(0, done - before)
        elif step == "ocr":
            self._ocr_pages += max(0, done - before)
        elif step == "done":
            if file.step == "writing":
                self._written += file.chunks or 0
            self._read_done(file)
            file.finished = True
        file.step, file.done, file.total = step, done, total
        if step != "done":
            self._running = (path, step)

    def _read_done(self, file: _File) -> None:
        if file.read:
            return
        file.read = True
        reads = self._reads.setdefault(file.kind, [0.0, 0.0])
        reads[0] += file.size
        reads[1] += file.read_seconds
        if file.chunks is not None:
            chunkings = self._chunkings.setdefault(file.kind, [0.0, 0.0])
            chunkings[0] += file.size
            chunkings[1] += file.chunks

    def estimate(self, now: float) -> tuple[float, bool] | None:
        """(seconds left, whether every part of it has a measured rate), or None while nothing left has one.

        Incomplete means a lower bound: e.g. OCR pages left at the measured pace, but no chunk embedded yet to say
        how long the embedding after them takes. Writing counts as free until a first batch is written."""
        per_chunk = self.stages.get("embedding", 0.0) / self._embedded if self._embedded else None
        per_page = self.stages.get("ocr", 0.0) / self._ocr_pages if self._ocr_pages else None
        per_write = self.stages.get("writing", 0.0) / self._written if self._written else 0.0
        per_byte = {kind: seconds / size for kind, (size, seconds) in self._reads.items() if size}
        chunks_per_byte = {kind: chunks / size for kind, (size, chunks) in self._chunkings.items() if size}
        known, complete = 0.0, True
        for path, file in self._files.items():
            if file.finished:
                continue
            read_rate, chunk_rate = per_byte.get(file.kind), chunks_per_byte.get(file.kind)
            parts: list[float | None] = []
            chunks: float | None = file.chunks
            if chunks is None:
                if file.step == "ocr" and file.total:
                    parts.append((file.total - file.done) * per_page if per_page is not None else None)
                else:
                    parts.append(max(0.0, file.size * read_rate - file.read_seconds) if read_rate is not None else None)
                chunks = file.size * chunk_rate if chunk_rate is not None else None
            if chunks is None:
                parts.append(None)
            else:
                left = chunks - (file.done if file.step == "embedding" else 0) if file.step != "writing" else 0
                parts.append(left * per_chunk if per_chunk is not None else (0.0 if left <= 0 else None))
                parts.append(chunks * per_write)
            seconds = sum(p for p in parts if p is not None)
            if self._running is not None and self._running[0] == path and self._since is not None:
                seconds = max(0.0, seconds - (now - self._since))  # what this file has done since its last event
            known += seconds
            complete = complete and None not in parts
        if not complete and known == 0:
            return None
        return known, complete
