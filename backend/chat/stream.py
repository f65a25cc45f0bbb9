"""Streaming answers: a worker thread feeding a queue, released a redacted sentence at a time."""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator

from backend.generation.markers import MarkerNumbering
from backend.generation.prompts import reveals_prompt
from backend.models import Answer
from backend.text.sentences import split_sentences


class AnswerStream:
    """Iterate for (redacted) text as it is produced; `.answer` is the final Answer once iteration ends.

    The pipeline runs in a worker thread, so an abandoned stream still finishes and stores its turn.
    """

    _DONE = object()

    def __init__(self, run: Callable[[Callable[[str], None]], Answer],
                 on_answer: Callable[[Answer], None] | None = None):
        self._queue: queue.Queue = queue.Queue()
        self.answer: Answer | None = None
        self.error: BaseException | None = None

        def work():
            try:
                self.answer = run(self._queue.put)
                if on_answer is not None:
                    on_answer(self.answer)
            except BaseException as exc:  # re-raised in the consumer's thread
                self.error = exc
            finally:
                self._queue.put(self._DONE)

        self._thread = threading.Thread(target=work, name="rag-ask", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[str]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                break
            yield item
        self._thread.join()
        if self.error is not None:
            raise self.error

    def result(self) -> Answer:
        for _ in self:
            pass
        assert self.answer is not None
        return self.answer


class SentenceGate:
    """Releases streamed text a sentence at a time, redacted, its markers renumbered by `numbering` (as the
    final text will be), and stops if a sentence repeats our prompt."""

    def __init__(self, redact: Callable[[str], str], emit: Callable[[str], None] | None,
                 numbering: MarkerNumbering | None = None):
        self.redact = redact
        self.emit = emit
        self.numbering = numbering
        self.buffer = ""
        self.blocked = False
        self.sent = False

    def feed(self, delta: str) -> None:
        self.buffer += delta
        spans = split_sentences(self.buffer)
        if len(spans) < 2:
            return
        # Everything before the last (maybe unfinished) sentence is complete; a marker never straddles the cut,
        # as a sentence starting with one ("... free. [2] ...") keeps it.
        cut = spans[-1].start
        self._release(self.buffer[:cut])
        self.buffer = self.buffer[cut:]

    def close(self) -> None:
        if self.buffer.strip():
            self._release(self.buffer)
        self.buffer = ""

    def _release(self, text: str) -> None:
        if self.blocked or self.emit is None or not text.strip():
            return
        if reveals_prompt(text):
            self.blocked = True
            return
        if self.numbering is not None:
            text = self.numbering.apply(text)
            if not text.strip():  # nothing but a marker citing no passage
                return
        self.emit((" " if self.sent else "") + self.redact(text).strip())
        self.sent = True
