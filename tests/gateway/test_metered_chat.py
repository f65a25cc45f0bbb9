"""MeteredChat, the one entry point of the Chat page and the HTTP ask routes: rate limit, then the tenant's quota,
both before any model call; usage recorded after the answer (a streamed one when it finishes)."""
from __future__ import annotations

import threading

import pytest

from backend.chat.stream import AnswerStream
from backend.gateway.identity import Identity, QuotaExceeded, RateLimited
from backend.gateway.metered import UI_CHAT_ROUTE, MeteredChat
from backend.models import Answer

OLGA = Identity(user="olga", tenant="acme", role="operator")


class CountingChat:
    """Stands for platform.chat in this control-flow test: records each call that would retrieve and generate."""

    def __init__(self, answer: Answer, release: threading.Event | None = None):
        self.answer = answer
        self.release = release
        self.calls: list[tuple[str, str, object]] = []

    def ask(self, question, collection=None, conversation_id=None, **options) -> Answer:
        self.calls.append(("ask", question, options.get("ctx")))
        return self.answer

    def ask_stream(self, question, collection=None, conversation_id=None, on_answer=None, **options) -> AnswerStream:
        self.calls.append(("ask_stream", question, options.get("ctx")))

        def run(emit) -> Answer:
            emit("The fee is 12 EUR.")
            if self.release is not None:
                assert self.release.wait(10), "the test never released the stream"
            return self.answer

        return AnswerStream(run, on_answer)


def _answer(tokens_in: int = 200, tokens_out: int = 100, cost: float = 0.002, cached: bool = False) -> Answer:
    return Answer(text="The fee is 12 EUR.", tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost, cached=cached)


def test_past_the_rate_limit_no_model_call_and_nothing_charged(make_gateway):
    gw = make_gateway(rate_limit_per_minute=2)
    chat = CountingChat(_answer())
    metered = MeteredChat(gw, chat)
    metered.ask(OLGA, "one", route=UI_CHAT_ROUTE)
    metered.ask(OLGA, "two", route=UI_CHAT_ROUTE)
    with pytest.raises(RateLimited, match=r"2 requests per minute for user 'olga'; retry in \d+ s") as caught:
        metered.ask(OLGA, "three", route=UI_CHAT_ROUTE)
    assert 1 <= caught.value.retry_after <= 60
    with pytest.raises(RateLimited):
        metered.ask_stream(OLGA, "four", route=UI_CHAT_ROUTE)
    assert [c[1] for c in chat.calls] == ["one", "two"]
    assert gw.usage("acme")["requests"] == 2 and gw.usage("acme")["tokens"] == 600


def test_the_ui_route_is_counted_beside_the_api_routes(make_gateway):
    gw = make_gateway(rate_limit_per_minute=100, route_limit_per_minute=1)
    metered = MeteredChat(gw, CountingChat(_answer()))
    metered.ask(OLGA, "one", route=UI_CHAT_ROUTE)
    with pytest.raises(RateLimited, match="for route ui:chat"):
        metered.ask(Identity(user="bob", tenant="acme", role="operator"), "two", route=UI_CHAT_ROUTE)
    gw.check_rate(OLGA, "/api/v1/ask")  # another route's budget is untouched


def test_an_exhausted_quota_stops_the_question_before_any_model_call(make_gateway):
    gw = make_gateway()
    gw.set_quota("acme", monthly_tokens=500, actor="admin")
    chat = CountingChat(_answer())  # 300 tokens per answer
    metered = MeteredChat(gw, chat)
    metered.ask(OLGA, "one", route=UI_CHAT_ROUTE)
    metered.ask(OLGA, "two", route=UI_CHAT_ROUTE)  # starts under quota, ends over it
    with pytest.raises(QuotaExceeded, match=r"tenant 'acme' has used 600 of its 500 monthly tokens"):
        metered.ask(OLGA, "three", route=UI_CHAT_ROUTE)
    with pytest.raises(QuotaExceeded):
        metered.ask_stream(OLGA, "four", route=UI_CHAT_ROUTE)
    assert [c[1] for c in chat.calls] == ["one", "two"]
    assert (gw.usage("acme")["tokens"], gw.usage("acme")["requests"]) == (600, 2)
    other = Identity(user="gus", tenant="globex", role="operator")
    metered.ask(other, "globex has no quota", route=UI_CHAT_ROUTE)  # one tenant's quota never stops another
    assert gw.usage("globex")["tokens"] == 300


def test_a_streamed_answer_is_charged_when_it_finishes(make_gateway):
    gw = make_gateway()
    release = threading.Event()
    seen = []
    metered = MeteredChat(gw, CountingChat(_answer(tokens_in=40, tokens_out=10, cost=0.5), release))
    stream = metered.ask_stream(OLGA, "fee?", route=UI_CHAT_ROUTE, on_answer=seen.append)
    assert gw.usage("acme")["requests"] == 0  # still answering
    release.set()
    answer = stream.result()
    used = gw.usage("acme")
    assert (used["tokens"], used["cost_usd"], used["requests"]) == (50, 0.5, 1)
    assert seen == [answer]  # the door's own callback still runs, after the usage is recorded


def test_a_cached_answer_costs_nothing_and_a_door_that_counted_already_is_not_counted_twice(make_gateway):
    gw = make_gateway(rate_limit_per_minute=1)
    metered = MeteredChat(gw, CountingChat(_answer(cached=True)))
    for _ in range(3):
        metered.ask(OLGA, "fee?", route=None)  # the HTTP gate counted each request when it authenticated the key
    used = gw.usage("acme")
    assert (used["tokens"], used["cost_usd"], used["requests"]) == (0, 0.0, 3)


def test_without_a_context_the_callers_own_scope_is_used(make_gateway):
    gw = make_gateway()
    gw.create_tenant("acme")
    gw.create_user("ann", "acme", "analyst", "correct horse battery")
    chat = CountingChat(_answer())
    MeteredChat(gw, chat).ask(Identity(user="ann", tenant="acme", role="analyst"), "fee?", route=UI_CHAT_ROUTE)
    ctx = chat.calls[0][2]
    assert ctx.user == "ann" and ctx.tenants == frozenset({"acme"}) and ctx.collections == frozenset()
