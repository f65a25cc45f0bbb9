"""The calculate tool: exact Decimal arithmetic, money and percentages, date arithmetic, and every refusal of what
is not arithmetic (names, attributes, calls, strings, huge powers, long or deep input), alone and through the executor."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from backend.context import RequestContext
from backend.gateway.identity import Identity
from backend.models import InputError
from backend.pii import get_redactor
from backend.platform import Platform
from backend.settings import Settings
from backend.tools.calculator import CALCULATE, CalculateArgs, calculate_tool, evaluate, format_value
from backend.tools.executor import ToolExecutor
from backend.tools.registry import ToolRegistry
from backend.tools.spec import ALL_ROLES, FAILED, INVALID, OK, ToolCaller, ToolError

DAY = date(2025, 3, 1)
ALLOWED = "(numbers, + - * / ( ), round/min/max/abs/sum, dates)"


def shown(expression: str) -> str:
    return format_value(evaluate(expression, today=DAY))


@pytest.mark.parametrize("expression, expected", [
    ("1 + 2", "3"), ("2 * (3 + 4)", "14"), ("7 / 2", "3.5"), ("-3 + +5", "2"), ("2 ** 10", "1024"),
    ("2 ** -2", "0.25"), ("10 % 3", "1"), ("7 // 2", "3"),
    # Floor division and remainder as in Python, not Decimal's truncation toward zero.
    ("-7 // 2", "-4"), ("-7 % 3", "2"), ("7 % -3", "-2"), ("-7 % -3", "-1"),
    ("1/3", "0.3333333333"), ("2/3", "0.6666666667"), ("1/7*7", "1"), ("2 ** 0.5", "1.4142135624"),
    ("round(2.5)", "3"), ("round(-2.5)", "-3"), ("round(2.345, 2)", "2.35"), ("round(2.5, 2)", "2.50"),
    ("round(1/3, 2)", "0.33"), ("round(1234, -2)", "1200"),
    ("min(3, 1, 2)", "1"), ("max(1, 250)", "250"), ("abs(-4.5)", "4.5"), ("sum(1, 2, 3.5)", "6.5"),
    ("1e3 + 1", "1001"), ("2 × 3 ÷ 4", "1.5"), ("5 − 2", "3"), ("-0", "0"), ("1.0375 ** 10 * 1000", "1445.0439426308"),
])
def test_arithmetic(expression, expected):
    assert shown(expression) == expected


def test_decimal_exactness_where_floats_drift():
    assert evaluate("3 * 0.1") == Decimal("0.3") and isinstance(evaluate("3 * 0.1"), Decimal)
    assert evaluate("0.1 + 0.2") == Decimal("0.3")
    assert shown("1.1 * 1.1") == "1.21"
    assert shown("3 * 25.00") == "75.00"  # money keeps its pence
    assert shown("99999999999999999999999.9999999999 + 0") == "99999999999999999999999.9999999999"  # 34 digits


@pytest.mark.parametrize("expression, expected", [
    ("£25.00 * 3", "75.00"), ("3 * £25.00", "75.00"), ("€1.50 * 4", "6.00"), ("£.50 * 3", "1.50"), ("-£5", "-5"),
    ("1,250 + 1", "1251"), ("£1,250.50 - $0.50", "1250.00"), ("£ 1,000,000 / 4", "250000"),
    # Inside a function's parentheses a bare comma separates arguments; after a currency sign it groups thousands.
    ("max(1,250)", "250"), ("max(£1,250, £900)", "1250"), ("max(1, 2,500)", "500"),
])
def test_money_and_thousands(expression, expected):
    assert shown(expression) == expected


@pytest.mark.parametrize("expression, expected", [
    ("12% of 250", "30"), ("250 * 12%", "30"), ("250 * 12 %", "30"), ("12.5% of £80.00", "10.00"),
    ("100 - 12% of 250", "70"), ("7.5% of 1000", "75.0"), ("12 %of 250", "30"),
    ("250 + 10%", "250.1"),  # a percentage is a number (10% is 0.10), as in a spreadsheet, not "add 10%"
    ("10 % 3", "1"), ("1 % 3%", "0.01"),  # with an operand after it, '%' is the remainder
])
def test_percentages(expression, expected):
    assert shown(expression) == expected


@pytest.mark.parametrize("expression, expected", [
    ("2025-03-01 + 30 days", date(2025, 3, 31)), ('date("2025-03-01") + 2 weeks', date(2025, 3, 15)),
    ("date('2025-03-01') - 1 day", date(2025, 2, 28)), ("date(2025-03-01) + 1 day", date(2025, 3, 2)),
    ("2025-01-31 + 1 month", date(2025, 2, 28)), ("2024-01-31 + 1 month", date(2024, 2, 29)),
    ("2025-03-31 - 1 month", date(2025, 2, 28)), ("2024-02-29 + 1 year", date(2025, 2, 28)),
    ("2025-12-31 + 1 day", date(2026, 1, 1)), ("30 days + 2025-03-01", date(2025, 3, 31)),
    ("-30 days + 2025-01-01", date(2024, 12, 2)), ("2025-01-31 + 1 month + 2 days", date(2025, 3, 2)),
    ("5 Days + 2025-01-01", date(2025, 1, 6)), ("max(2025-03-01, 2025-01-01)", date(2025, 3, 1)),
    ("today", DAY), ("today()", DAY), ("today + 30 days", date(2025, 3, 31)), ("today - 1 year", date(2024, 3, 1)),
])
def test_dates(expression, expected):
    assert evaluate(expression, today=DAY) == expected


def test_the_difference_of_two_dates_is_days():
    days = evaluate("2025-03-01 - 2025-01-01")
    assert days == 59 and isinstance(days, int) and format_value(days) == "59"
    assert evaluate("2025-01-01 - 2025-03-01") == -59 and evaluate("abs(2025-01-01 - 2025-03-01)") == 59
    assert evaluate("today - 2025-01-01", today=DAY) == 59
    assert shown("(2025-03-01 - 2025-01-01) / 7") == "8.4285714286"  # days in arithmetic: a number


def test_today_comes_from_the_clock_by_default():
    before = date.today()
    assert before <= evaluate("today") <= date.today()


def test_format_value():
    assert format_value(date(2025, 3, 31)) == "2025-03-31"
    assert format_value(Decimal("1E+3")) == "1000" and format_value(Decimal("-0.00")) == "0.00"
    assert format_value(59) == "59"


@pytest.mark.parametrize("expression, message", [
    ("__import__('os')", f"expression: '__import__' is not allowed {ALLOWED}"),
    ("__builtins__", "'__builtins__' is not allowed"),
    ("(1).__class__", "attribute access '.__class__' is not allowed"),
    ("(1).real", "attribute access '.real' is not allowed"), ("1 .real", "attribute access '.real'"),
    ("os.system('ls')", "'os' is not allowed"), ("open('/etc/passwd')", "'open' is not allowed"),
    ("eval('1')", "'eval' is not allowed"), ("exec('1')", "'exec' is not allowed"),
    ("compile('1', 'x', 'eval')", "'compile' is not allowed"), ("globals()", "'globals' is not allowed"),
    ("x", f"'x' is not allowed {ALLOWED}"), ("True + 1", "'True' is not allowed"), ("None", "'None' is not allowed"),
    ("'abc'", "text in quotes is not allowed"), ('"1" + "2"', "text in quotes is not allowed"),
    ("[1, 2]", "'[' is not allowed"), ("{1: 2}", "'{' is not allowed"), ("[x for x in (1, 2)]", "'[' is not allowed"),
    ("(x for x in (1, 2))", "'x' is not allowed"), ("lambda: 1", "'lambda' is not allowed"),
    ("1 if 1 else 2", "'if' is not allowed"), ("not 1", "'not' is not allowed"), ("1 and 2", "'and' is not allowed"),
    ("1 < 2", "'<' is not allowed"), ("1 == 1", "'=' is not allowed"), ("round(x=1)", "'x' is not allowed"),
    ("1; 2", "';' is not allowed"), ("1 # comment", "'#' is not allowed"), ("1 @ 2", "'@' is not allowed"),
    ("1 | 2", "'|' is not allowed"), ("~1", "'~' is not allowed"), ("1 \\ 2", "'\\\\' is not allowed"),
    ("1\x002", "'\\x00' is not allowed"), ("٣ + 1", "'٣' is not allowed"), ("é", "'é' is not allowed"),
    ("2 ^ 3", "'^' is not allowed: write powers as 2 ** 3"),
    ("(1)(2)", "calling a value is not allowed"), ("round(2)(1)", "calling a value is not allowed"),
    ("max(*(1, 2))", "'*' unpacking is not allowed"), ("max", "'max' without parentheses is not allowed"),
    ("...", "Ellipsis is not allowed"), ("1, 2", "a comma outside round/min/max/abs/sum is not allowed"),
    ("1,25", "a comma outside round/min/max/abs/sum"), ("_v0 + 1", "'_v0' is not allowed"),
    ("1 + ", "cannot read it as arithmetic"), ("(1 + 2", "cannot read it as arithmetic"), ("3round(1)", "cannot read"),
    ("£", "'£' must come before a number"), ("£-5", "'£' must come before a number"),
    ("1" * 30, f"the number {'1' * 30} is beyond 10^24"), ("1 % (2 + 3)% of", "'of' follows a percentage"),
    ("days", "'days' must follow a whole number, as in 30 days"), ("1.5 days + 2025-03-01", "a whole number of days"),
    ("2025-02-30 + 1 day", "'2025-02-30' is not a date"), ("date('tomorrow')", "'tomorrow' is not a date"),
    ("date", "write a date as 2025-03-01"), ("2025-03-01 + 30", "give the unit: + 30 days"),
    ("2025-03-01 + 2025-03-01", "'+' does not apply to a date and a date"),
    ("2025-03-01 * 2", "'*' does not apply to a date and a number"), ("-2025-01-01", "a sign does not apply to a date"),
    ("30 days", "the result is a duration"), ("1 month + 2 days", "'+' does not apply to a duration and a duration"),
    ("round(2025-03-01)", "round takes numbers, not a date"), ("max(1, 2025-01-01)", "max takes numbers, not a date"),
    ("sum()", "sum() needs a value"), ("abs(1, 2)", "abs() takes one value"), ("round(1, 2, 3)", "round() takes a number"),
    ("round(1, 0.5)", "round's places must be a whole number"), ("round(1, 11)", "round's places must be a whole number"),
    ("", "expression: empty"), ("   ", "expression: empty"),
    ("1 + " * 60 + "1", "241 characters, more than the 200 allowed"),
    ("1" * 10_000, "10000 characters, more than the 200 allowed"),
    ("(" * 30 + "1" + ")" * 30, "parentheses nested more than 20 deep"),
    ("-" * 150 + "1", "nested more than 100 levels deep"),
])
def test_what_is_not_arithmetic_is_refused_naming_it(expression, message):
    with pytest.raises(InputError) as refused:
        evaluate(expression, today=DAY)
    assert refused.value.field == "expression"
    assert str(refused.value).startswith("expression: ") and message in str(refused.value)


@pytest.mark.parametrize("expression, message", [
    ("9**9**9", "9 ** 387420489 is too large (exponents up to 1000, results below 10^24)"),
    ("10 ** 10 ** 10", "is too large"), ("2 ** 1000", "2 ** 1000 is beyond 10^24"),
    ("10**20 * 10**20", "a result beyond 10^24 is out of range"), ("999999999999999999999999 + 1", "beyond 10^24"),
    ("sum(10**23, 10**23, 10**23, 10**23, 10**23, 10**23, 10**23, 10**23, 10**23, 10**23)", "beyond 10^24"),
    ("1 / 0", "division by zero"), ("5 % 0", "division by zero"), ("5 // (2 - 2)", "division by zero"),
    ("0 ** -1", "division by zero"), ("(-8) ** 0.5", "a negative number to a fractional power is not a real number"),
    ("9999-12-31 + 1 day", "the date falls outside the years 1 to 9999"), ("0001-01-01 - 1 day", "outside the years"),
    ("999999999999999999 days + 2025-01-01", "outside the years"), ("99999999999999 months + 2025-01-01", "outside"),
])
def test_what_cannot_be_computed_is_a_tool_error(expression, message):
    with pytest.raises(ToolError) as failed:
        evaluate(expression)
    assert str(failed.value).startswith("expression: ") and message in str(failed.value)


def test_a_name_written_like_a_placeholder_is_not_one():
    # The scanner names each value it reads _v0, _v1...; a user's own _v0 must never resolve to one.
    with pytest.raises(InputError, match="'_v1' is not allowed"):
        evaluate("2025-03-01 + _v1")


def test_the_tool_declares_itself():
    assert (CALCULATE.name, CALCULATE.scope, CALCULATE.timeout_s, CALCULATE.writes) == ("calculate", "read", 2.0, False)
    assert CALCULATE.roles == ALL_ROLES
    schema = CALCULATE.schema()
    assert schema["required"] == ["expression"] and schema["properties"]["expression"]["maxLength"] == 200
    assert schema["additionalProperties"] is False
    assert CALCULATE.openai()["function"]["name"] == "calculate"
    with pytest.raises(ValueError):
        CalculateArgs.model_validate({"expression": "1", "code": "x"})


def test_the_tool_says_what_it_computed():
    run = calculate_tool(clock=lambda: DAY).run
    out = run(None, None, CalculateArgs(expression="3 * 25.00"))
    assert out.text == "3 * 25.00 = 75.00"
    assert out.data == {"expression": "3 * 25.00", "value": "75.00", "kind": "number"}
    days = run(None, None, CalculateArgs(expression="2025-03-01   - 2025-01-01"))
    assert days.text == "2025-03-01 - 2025-01-01 = 59 days" and days.data["kind"] == "days"
    later = run(None, None, CalculateArgs(expression="today + 30 days"))
    assert later.text == "today + 30 days = 2025-03-31 (today is 2025-03-01)"
    assert later.data == {"expression": "today + 30 days", "value": "2025-03-31", "kind": "date", "today": "2025-03-01"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with Platform(Settings(data_dir=tmp_path_factory.mktemp("calculator") / "data")) as platform:
        # The executor loads the redactor inside a call's time budget; on a busy machine the cold load (~20 s)
        # alone can spend it, so it is loaded here, before any call starts its clock.
        get_redactor(platform.settings)
        yield platform


@pytest.fixture
def executor(platform):
    platform.gateway.limits.reset()
    executor = ToolExecutor(platform, ToolRegistry([CALCULATE]))
    yield executor
    executor.close()


def _caller(platform, role="analyst", key_id=None, scopes=frozenset({"read", "ask"})) -> ToolCaller:
    identity = Identity(user="cal", tenant="acme", role=role, key_id=key_id, scopes=scopes)
    return ToolCaller(identity, RequestContext.for_tenant(platform.settings, "acme", user="cal", role=role))


def test_through_the_executor_a_calculation_runs_and_is_audited(platform, executor):
    call = executor.call("calculate", {"expression": "3 * £25.00"}, _caller(platform))
    assert (call.outcome, call.message) == (OK, "")
    assert call.result == "3 * £25.00 = 75.00" and call.data["value"] == "75.00" and call.data["kind"] == "number"
    row = platform.gateway.audit_log(limit=1, action="tool.")[0]
    assert (row["actor"], row["action"], row["target"]) == ("cal", "tool.ok", "calculate")
    # A stakeholder, and a key holding only the read scope, may calculate too.
    key = _caller(platform, role="stakeholder", key_id=3, scopes=frozenset({"read"}))
    assert executor.call("calculate", '{"expression": "12% of 250"}', key).result == "12% of 250 = 30"


def test_through_the_executor_bad_expressions_name_the_field(platform, executor):
    caller = _caller(platform)
    refused = executor.call("calculate", {"expression": "__import__('os').system('ls')"}, caller)
    assert refused.outcome == FAILED and refused.result == ""
    assert refused.message == f"expression: '__import__' is not allowed {ALLOWED}"
    huge = executor.call("calculate", {"expression": "9**9**9"}, caller)
    assert huge.outcome == FAILED and huge.message.startswith("expression: 9 ** 387420489 is too large")
    too_long = executor.call("calculate", {"expression": "1+" * 150 + "1"}, caller)
    assert too_long.outcome == INVALID and too_long.message.startswith("arguments.expression:")
    missing = executor.call("calculate", {"expr": "1 + 1"}, caller)
    assert missing.outcome == INVALID and missing.message.startswith("arguments.")
    details = json.loads(row["details"]) if isinstance((row := platform.gateway.audit_log(limit=1)[0])["details"], str) \
        else row["details"]
    assert details["outcome"] == INVALID and row["action"] == "tool.invalid"
