"""What people type for counts, durations, frequencies and yes/no: parsed, or refused with the field named."""
import math

import pytest

from backend.economics.units import (
    parse_bool,
    parse_change_frequency,
    parse_count,
    parse_duration_ms,
    parse_fraction,
    parse_money,
    parse_number,
)
from backend.models import InputError


@pytest.mark.parametrize("text, expected", [
    ("100000", 100_000), ("100,000", 100_000), ("100k", 100_000), ("100 K", 100_000), ("1.5M", 1_500_000),
    ("200 examples", 200), ("2bn", 2_000_000_000), ("100k queries", 100_000), ("1e5", 100_000), (42, 42),
    ("100000 per month", 100_000),
])
def test_counts(text, expected):
    assert parse_count(text, "monthly queries") == expected


@pytest.mark.parametrize("text, fragment", [
    ("-5", "must be at least 0"), ("lots", "is not a number"), ("", "is not a number"), ("1.5", "whole number"),
    ("200 apples", "unknown unit 'apples'"), ("1e30", "beyond the planner's range"), (True, "expected a number"),
])
def test_bad_counts_name_the_field(text, fragment):
    with pytest.raises(InputError) as err:
        parse_count(text, "monthly queries")
    assert str(err.value).startswith("monthly queries:")
    assert fragment in str(err.value)


@pytest.mark.parametrize("text, ms", [
    ("2s", 2000), ("150ms", 150), ("150 ms", 150), ("1.5 seconds", 1500), ("1 min", 60_000), (80, 80), ("0.08s", 80),
])
def test_durations(text, ms):
    assert parse_duration_ms(text, "latency requirement") == pytest.approx(ms)


@pytest.mark.parametrize("text, fragment", [
    ("2 fortnights", "unknown unit 'fortnights'"), ("2", "has no unit"), ("fast", "is not a duration"),
    ("-2s", "positive"), ("0s", "positive"), ("3 days", "unknown unit 'days'"),
])
def test_bad_durations(text, fragment):
    with pytest.raises(InputError, match="^latency requirement: ") as err:
        parse_duration_ms(text, "latency requirement")
    assert fragment in str(err.value)


@pytest.mark.parametrize("text, label, often", [
    ("daily", "daily", True), ("weekly", "weekly", True), ("Monthly", "monthly", True),
    ("every 2 weeks", "monthly", True), ("3 months", "quarterly", True), ("quarterly", "quarterly", True),
    ("rarely", "rarely", False), ("every 9 months", "rarely", False), ("yearly", "rarely", False),
    ("never", "never", False),
])
def test_change_frequency(text, label, often):
    freq = parse_change_frequency(text, "knowledge changes")
    assert (freq.label, freq.changes_often) == (label, often)


def test_change_frequency_per_month():
    assert parse_change_frequency("weekly", "f").changes_per_month == pytest.approx(30 / 7)
    assert parse_change_frequency("never", "f").changes_per_month == 0
    assert math.isinf(parse_change_frequency("static", "f").interval_days)


@pytest.mark.parametrize("text", ["2 fortnights", "sometimes", "every -2 weeks", ""])
def test_bad_frequency(text):
    with pytest.raises(InputError, match="^knowledge changes: "):
        parse_change_frequency(text, "knowledge changes")


def test_bools_fractions_money_numbers():
    assert parse_bool("true", "c") is True and parse_bool("No", "c") is False and parse_bool("required", "c") is True
    with pytest.raises(InputError, match="needs citations: 'maybe' is not yes/no"):
        parse_bool("maybe", "needs citations")
    assert parse_fraction("60%", "h") == pytest.approx(0.6) and parse_fraction("0.25", "h") == 0.25
    with pytest.raises(InputError, match="cache hit rate"):
        parse_fraction("120%", "cache hit rate")
    assert parse_money("$5,000", "ceiling") == 5000 and parse_money("5k", "ceiling") == 5000
    with pytest.raises(InputError, match="ceiling: '-5' must be at least 0"):
        parse_money("-5", "ceiling")
    assert parse_number("12.5", "qps", strict_minimum=True) == 12.5
    with pytest.raises(InputError, match="qps: '0' must be above 0"):
        parse_number("0", "qps", strict_minimum=True)
    with pytest.raises(InputError, match="qps: 'ten' is not a number"):
        parse_number("ten", "qps")
