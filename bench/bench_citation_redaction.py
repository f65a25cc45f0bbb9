"""Citation redaction at answer time: NER on every citation (before) against the findings recorded at ingest (now).

    python -m bench.bench_citation_redaction [--rounds N]

data/demo and bench/data/pii_labelled.jsonl's sentences (as a few documents full of names, addresses, e-mails and
phones) are ingested into a collection that flags; every chunk becomes a citation quoting its middle third, redacted
both ways in batches of CITED (one answer's citations: one findings lookup each). Prints the time per citation side
by side and how many citations come out the same (quote, chunk text and offsets); asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time

from bench import PROJECT_ROOT, bench_settings, heading, machine, percentiles, write_results

DEMO = PROJECT_ROOT / "data" / "demo"
LABELLED = PROJECT_ROOT / "bench" / "data" / "pii_labelled.jsonl"
CITED = 4  # citations in one answer: one lookup of their chunks' findings per answer
SENTENCES_PER_DOCUMENT = 30


def _personal_documents(folder) -> int:
    """The labelled sentences as markdown documents, a paragraph of three sentences at a time."""
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(0, len(rows), SENTENCES_PER_DOCUMENT):
        part = [row["text"] for row in rows[n:n + SENTENCES_PER_DOCUMENT]]
        paragraphs = ["  ".join(part[i:i + 3]) for i in range(0, len(part), 3)]
        (folder / f"people-{n // SENTENCES_PER_DOCUMENT + 1}.md").write_text(
            f"# Case notes {n // SENTENCES_PER_DOCUMENT + 1}\n\n" + "\n\n".join(paragraphs) + "\n")
    return len(rows)


def _citations(chunks):
    from backend.models import Citation

    for chunk in chunks:
        third = len(chunk.text) // 3
        start, end = third, max(third + 1, 2 * third)
        yield Citation(marker=1, chunk_id=chunk.id, document_id=chunk.document_id, title=chunk.title,
                       quote=chunk.text[start:end], score=1.0, quote_start=start, quote_end=end, context=chunk.text)


def _fields(citation) -> tuple:
    return citation.quote, citation.context, citation.quote_start, citation.quote_end


def main(rounds: int = 3) -> dict:
    from backend.chat.redaction import _stored_spans, citation_findings, redact_citation
    from backend.pii import get_redactor
    from backend.platform import Platform

    settings = bench_settings("citation-redaction")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    files = settings.data_dir.parent / "citation-redaction-files"
    sentences = _personal_documents(files)
    results: dict = {"machine": machine(), "quick": False, "rounds": rounds, "labelled_sentences": sentences}
    with Platform(settings) as platform:
        platform.corpus.create_collection("bench")
        platform.corpus.ingest([DEMO, files], "bench")
        chunks = [c for d in platform.corpus.documents("bench") for c in platform.corpus.chunks(d["id"])]
        redactor = get_redactor(settings)
        redactor.analyze("Warm up the analyzer, Margaret Okafor.")
        old_ms: list[float] = []
        new_ms: list[float] = []
        same = fallback = with_findings = quote_alone = 0
        for round_number in range(rounds):
            for n in range(0, len(chunks), CITED):
                batch = chunks[n:n + CITED]
                started = time.perf_counter()
                before = [redact_citation(redactor, c) for c in _citations(batch)]
                old_ms.append((time.perf_counter() - started) * 1000 / len(batch))
                started = time.perf_counter()
                stored = citation_findings(platform.store, settings.data_dir, [c.id for c in batch])
                now = [redact_citation(redactor, c, stored.get(c.chunk_id)) for c in _citations(batch)]
                new_ms.append((time.perf_counter() - started) * 1000 / len(batch))
                if round_number == 0:
                    same += sum(_fields(a) == _fields(b) for a, b in zip(before, now))
                    # the old path lost the chunk text: the quote's redaction was not found in the chunk's
                    quote_alone += sum(_fields(a) != _fields(b) and a.context == a.quote for a, b in zip(before, now))
                    fallback += sum(c.id not in stored or _stored_spans(redactor, cited, stored[c.id]) is None
                                    for c, cited in zip(batch, _citations(batch)))
                    with_findings += sum(bool(stored[c.id].findings) for c in batch if c.id in stored)
        results.update({"citations": len(chunks), "with_findings": with_findings, "same": same,
                        "old_quote_alone": quote_alone, "analysed_again": fallback, "before_ms": {**percentiles(old_ms), "mean": round(sum(old_ms) / len(old_ms), 3)},
                        "now_ms": {**percentiles(new_ms), "mean": round(sum(new_ms) / len(new_ms), 3)}})
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    shutil.rmtree(files, ignore_errors=True)
    print_report(results)
    write_results("citation-redaction", results)
    return results


def print_report(results: dict) -> None:
    print(heading("citation redaction at answer time", results))
    print(f"{results['citations']} citations (every chunk of data/demo and {results['labelled_sentences']} labelled "
          f"sentences), {results['with_findings']} with findings; {results['rounds']} rounds, batches of {CITED}")
    print(f"{'ms per citation':<18}{'NER (before)':>14}{'stored (now)':>14}")
    for key in ("p50", "p95", "mean"):
        before, now = results["before_ms"].get(key), results["now_ms"].get(key)
        if before is not None and now is not None:
            print(f"{key:<18}{before:>14.2f}{now:>14.2f}")
    print(f"same redaction: {results['same']} of {results['citations']} citations ({results['old_quote_alone']} of "
          f"the others: NER on the quote alone lost its chunk text); analysed again (no findings recorded, or a "
          f"place among them): {results['analysed_again']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args().rounds)
