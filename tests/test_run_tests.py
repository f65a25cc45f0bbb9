"""make test's runner: the closing line adds up both pytest runs' own summaries."""
from __future__ import annotations

from scripts.run_tests import counts, summary

REST = "....F\n=== short test summary info ===\nFAILED tests/x.py::t - boom\n1 failed, 1940 passed, 1 warning in 801.20s (0:13:21)\n"
BROWSER = "......\n56 passed, 1 skipped in 640.02s (0:10:40)\n"


def test_counts_read_the_closing_summary_line():
    assert counts(REST) == {"failed": 1, "passed": 1940, "warnings": 1}
    assert counts(BROWSER) == {"passed": 56, "skipped": 1}
    assert counts("collected 0 items\n") == {}


def test_the_closing_line_adds_both_runs_in_pytests_order():
    assert summary([REST, BROWSER], 812.5) == "1 failed, 1996 passed, 1 skipped, 1 warnings in 812.50s (both runs, at once)"
    assert summary(["", ""], 1.0).startswith("no tests ran")
