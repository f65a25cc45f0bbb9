"""A file's ingest steps as progress shows them: their names, their labels, and embedding in slices that report."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

# In their usual order; "ocr" comes from the loaders (backend/ingest/progress.py), and a collection that redacts
# at ingest checks "personal data" before "chunking" rather than after it.
STEPS = ("reading", "ocr", "chunking", "personal data", "embedding", "writing", "done")
FIRST_SLICE = 16  # chunks embedded before the first report, so a rate (and the time left) is known early


def step_label(step: str, done: int = 0, total: int | None = None) -> str:
    """'OCR page 3 of 20', 'embedding 16 of 60 chunks', 'chunking'..."""
    if step == "ocr":
        return f"OCR page {min(done + 1, total)} of {total}" if total and done < total else "OCR"
    if step == "embedding" and total is not None:
        return f"embedding {total} chunk{'' if total == 1 else 's'}" if done == 0 else f"embedding {done} of {total} chunks"
    if step == "personal data":
        return "checking personal data"
    if total is not None:
        return f"{step} {done} of {total}"
    return step


def embed_in_slices(encode: Callable[[list[str]], np.ndarray], texts: list[str], owners: Sequence[str],
                    batch_size: int, report: Callable[[str, int, int], None]) -> np.ndarray:
    """encode(texts) in slices (FIRST_SLICE, then batch_size), calling report(owner, done, total) for each file
    (owners[i] is the file of texts[i]) before each slice it is in and once all is embedded."""
    if not texts:
        return encode(texts)
    totals: dict[str, int] = {}
    for owner in owners:
        totals[owner] = totals.get(owner, 0) + 1
    done = dict.fromkeys(totals, 0)
    parts, start = [], 0
    while start < len(texts):
        end = min(len(texts), start + (min(FIRST_SLICE, batch_size) if start == 0 else batch_size))
        for owner in dict.fromkeys(owners[start:end]):
            report(owner, done[owner], totals[owner])
        parts.append(encode(texts[start:end]))
        for owner in owners[start:end]:
            done[owner] += 1
        start = end
    for owner in totals:
        report(owner, done[owner], totals[owner])
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
