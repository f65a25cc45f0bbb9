"""What recording personal data at ingest costs: data/demo ingested with no analysis, with findings only, and redacted."""
from __future__ import annotations

import argparse
import shutil
import time

from bench import PROJECT_ROOT, bench_settings, heading, machine, write_results

DEMO = PROJECT_ROOT / "data" / "demo"
MODES = ("none", "flag", "redact")  # none: the pipeline given no redactor, as before findings were recorded


def _ingest(mode: str, round_number: int) -> dict:
    from backend.platform import Platform

    settings = bench_settings(f"pii-ingest-{mode}-{round_number}")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    with Platform(settings) as platform:
        platform.embedder.encode(["warm up the model"])  # model loads are not ingest time
        platform.ingest_redactor().analyze("Warm up the analyzer, Margaret Okafor.")
        if mode == "none":
            platform.ingest_redactor = lambda: None  # type: ignore[method-assign]
        platform.corpus.create_collection("demo")
        if mode == "redact":
            platform.corpus.set_pii_at_ingest("demo", "redact")
        started = time.perf_counter()
        report = platform.corpus.ingest([DEMO], "demo")
        seconds = time.perf_counter() - started
        findings = platform.store.scalar("SELECT count(*) FROM document_pii")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    return {"seconds": seconds, "documents": len(report.files), "chunks": report.chunks_added, "findings": findings}


def main(rounds: int = 3) -> dict:
    results: dict = {"machine": machine(), "quick": False, "rounds": rounds}
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for round_number in range(rounds):
        for mode in MODES:  # interleaved, so a busy moment of the shared machine is spread over every mode
            runs[mode].append(_ingest(mode, round_number))
    for mode in MODES:
        times = sorted(r["seconds"] for r in runs[mode])
        results[mode] = {"median_s": round(times[len(times) // 2], 2), "min_s": round(times[0], 2),
                         "documents": runs[mode][0]["documents"], "chunks": runs[mode][0]["chunks"],
                         "findings": runs[mode][0]["findings"]}
    print_report(results)
    write_results("pii-ingest", results)
    return results


def print_report(results: dict) -> None:
    print(heading("personal data at ingest", results))
    base = results["none"]["median_s"]
    print(f"data/demo: {results['none']['documents']} files, {results['none']['chunks']} chunks; "
          f"median of {results['rounds']} runs each")
    for mode in MODES:
        figures = results[mode]
        extra = "" if mode == "none" else f", +{figures['median_s'] - base:.2f} s ({figures['median_s'] / base - 1:+.0%})"
        print(f"  {mode:>6}: {figures['median_s']:.2f} s (min {figures['min_s']:.2f}){extra}, "
              f"{figures['findings']} findings recorded")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args().rounds)
