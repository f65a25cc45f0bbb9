"""Rate limits per key, user and route (429 with retry_after), and monthly quotas checked before any model call."""
from __future__ import annotations

import pytest

from backend.gateway.identity import Identity, QuotaExceeded, RateLimited
from backend.models import InputError

ANN = Identity(user="ann", tenant="acme", role="analyst", key_id=1, scopes=frozenset({"read"}))


def test_past_the_per_minute_limit_comes_a_429_with_retry_after(make_gateway):
    gw = make_gateway(rate_limit_per_minute=3)
    for _ in range(3):
        gw.check_rate(ANN, "/api/v1/ask")
    with pytest.raises(RateLimited, match=r"3 requests per minute for API key #1; retry in \d+ s") as caught:
        gw.check_rate(ANN, "/api/v1/search")  # the key's budget spans routes
    assert 1 <= caught.value.retry_after <= 60
    # Another key of the same user has its own budget, but the user's is spent too.
    with pytest.raises(RateLimited, match="for user 'ann'"):
        gw.check_rate(Identity(user="ann", tenant="acme", role="analyst", key_id=2), "/api/v1/ask")
    gw.check_rate(Identity(user="bob", tenant="acme", role="analyst", key_id=3), "/api/v1/ask")


def test_a_route_has_its_own_limit_for_all_callers_together(make_gateway):
    gw = make_gateway(rate_limit_per_minute=100, route_limit_per_minute=4)
    for user in ("a", "b", "c", "d"):
        gw.check_rate(Identity(user=user, tenant="acme", role="analyst"), "/v1/chat/completions")
    with pytest.raises(RateLimited, match="for route /v1/chat/completions") as caught:
        gw.check_rate(Identity(user="e", tenant="acme", role="analyst"), "/v1/chat/completions")
    assert caught.value.retry_after >= 1
    gw.check_rate(Identity(user="e", tenant="acme", role="analyst"), "/v1/models")


def test_a_refused_request_does_not_use_up_the_other_budgets(make_gateway):
    gw = make_gateway(rate_limit_per_minute=2, route_limit_per_minute=2)
    busy = Identity(user="busy", tenant="acme", role="analyst")
    gw.check_rate(busy, "/a")
    gw.check_rate(busy, "/a")
    for _ in range(3):
        with pytest.raises(RateLimited):
            gw.check_rate(busy, "/b")  # refused by the user's limit: /b's route counter stays at 0
    other = Identity(user="other", tenant="acme", role="analyst")
    gw.check_rate(other, "/b")
    gw.check_rate(other, "/b")


def test_the_limiter_takes_a_storage_uri(make_gateway):
    gw = make_gateway(rate_limit_storage="memory://")
    gw.check_rate(ANN, "/x")
    bad = make_gateway(rate_limit_storage="nosuch://host")
    with pytest.raises(ValueError, match="GROUNDWORK_RATE_LIMIT_STORAGE 'nosuch://host': unknown storage scheme"):
        bad.check_rate(ANN, "/x")


def test_an_exhausted_token_quota_stops_the_next_request_before_generation(gateway):
    gateway.set_quota("acme", monthly_tokens=1000, actor="admin")
    gateway.check_quota("acme")
    gateway.record_usage("acme", 600, 0.01)
    gateway.check_quota("acme")
    gateway.record_usage("acme", 500, 0.01)  # a request that started under quota may end over it
    with pytest.raises(QuotaExceeded, match=r"tenant 'acme' has used 1,100 of its 1,000 monthly tokens \(2026-05\)"):
        gateway.check_quota("acme")
    gateway.check_quota("globex")  # no quota: no limit
    usage = gateway.usage("acme")
    assert (usage["tokens"], usage["requests"], usage["monthly_tokens"], usage["monthly_cost_usd"]) == (1100, 2, 1000, None)
    assert gateway.audit_log(action="quota.set")[0]["details"] == {"monthly_tokens": 1000, "monthly_cost_usd": None}


def test_a_cost_quota_and_a_new_month(gateway, clock):
    gateway.set_quota("acme", monthly_cost_usd=5.0)
    gateway.record_usage("acme", 10, 5.25)
    with pytest.raises(QuotaExceeded, match=r"tenant 'acme' has used \$5.25 of its \$5.00 monthly cost"):
        gateway.check_quota("acme")
    clock.advance(days=20)  # June: a fresh month
    gateway.check_quota("acme")
    assert gateway.usage("acme")["month"] == "2026-06" and gateway.usage("acme")["tokens"] == 0
    assert [(h["month"], h["tokens"]) for h in gateway.usage_history("acme")] == [("2026-05", 10)]
    gateway.set_quota("acme", monthly_tokens=0)  # zero: nothing more this month
    with pytest.raises(QuotaExceeded, match="0 of its 0 monthly tokens"):
        gateway.check_quota("acme")


def test_a_quota_check_in_front_of_the_model_means_no_model_call(gateway):
    """The order the HTTP and chat doors use: check_quota, then generate, then record_usage."""
    calls = []

    def answer(question: str) -> str:
        gateway.check_quota("acme")
        calls.append(question)  # stands for the generator call
        gateway.record_usage("acme", 300, 0.002)
        return "ok"

    gateway.set_quota("acme", monthly_tokens=500)
    assert answer("one") == "ok" and answer("two") == "ok"
    with pytest.raises(QuotaExceeded):
        answer("three")
    assert calls == ["one", "two"]


def test_quota_values_are_checked(gateway):
    with pytest.raises(InputError, match="monthly_tokens"):
        gateway.set_quota("acme", monthly_tokens=-1)
    with pytest.raises(InputError, match="monthly_cost_usd"):
        gateway.set_quota("acme", monthly_cost_usd="lots")  # type: ignore[arg-type]
