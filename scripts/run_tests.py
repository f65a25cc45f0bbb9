"""`make test`: the browser tests and the rest of the suite as two pytest processes at once, each report printed whole.

The browser tests spend most of their time waiting on the server and on Chromium, the rest mostly computes, so on
two cores the two halves overlap well (the suite's wall time is the longer half, not the sum). They are separate
processes, not pytest-xdist workers: Playwright's sync API keeps an event loop running in its process for the whole
browser session, which broke the tests that ran after it on the same worker. Options (-x, -k ...) go to both runs.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSER_TESTS = "tests/e2e"
_COUNT = re.compile(r"(\d+) (failed|passed|skipped|errors?|xfailed|xpassed|deselected|warnings?)")


def counts(report: str) -> dict[str, int]:
    """The counts in a pytest report's closing summary line ("1 failed, 1995 passed, 2 warnings in 9.1s")."""
    lines = [line for line in report.splitlines() if re.search(r" in [\d.]+s", line) and _COUNT.search(line)]
    if not lines:
        return {}
    found: dict[str, int] = {}
    for number, kind in _COUNT.findall(lines[-1]):
        kind = {"error": "errors", "warning": "warnings"}.get(kind, kind)
        found[kind] = found.get(kind, 0) + int(number)
    return found


def summary(reports: list[str], seconds: float) -> str:
    """One closing line for both runs, in pytest's own words and order."""
    total: dict[str, int] = {}
    for report in reports:
        for kind, number in counts(report).items():
            total[kind] = total.get(kind, 0) + number
    order = ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warnings", "errors")
    parts = [f"{total[kind]} {kind}" for kind in order if total.get(kind)]
    return f"{', '.join(parts) or 'no tests ran'} in {seconds:.2f}s (both runs, at once)"


def main(argv: list[str]) -> int:
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="gw-tests-"))
    pytest = [sys.executable, "-m", "pytest", "-q", "-ra"]
    with open(scratch / "browser.log", "w+") as browser_log:
        # Its own temporary directory and no shared cache file: the two runs never touch each other's files.
        browser = subprocess.Popen([*pytest, "-p", "no:cacheprovider", f"--basetemp={scratch / 'browser'}",
                                    BROWSER_TESTS, *argv], cwd=ROOT, stdout=browser_log, stderr=subprocess.STDOUT)
        rest = subprocess.Popen([*pytest, f"--basetemp={scratch / 'rest'}", f"--ignore={BROWSER_TESTS}", *argv],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert rest.stdout is not None
        rest_report = []
        for line in rest.stdout:  # shown as it runs, kept for the closing line
            sys.stdout.write(line)
            sys.stdout.flush()
            rest_report.append(line)
        rest.wait()
        if browser.poll() is None:
            print(f"\nwaiting for the browser tests ({BROWSER_TESTS}) ...", flush=True)
        browser.wait()
        browser_log.seek(0)
        browser_report = browser_log.read()
    print(f"\n{'=' * 30} browser tests ({BROWSER_TESTS}) {'=' * 30}")
    sys.stdout.write(browser_report)
    shutil.rmtree(scratch, ignore_errors=True)
    print(summary(["".join(rest_report), browser_report], time.monotonic() - started))
    return rest.returncode or browser.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
