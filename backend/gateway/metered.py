"""Every door's one way into the chat service for a caller: rate limit, tenant quota before any model call, usage after."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from backend.context import RequestContext
from backend.gateway import server_timing
from backend.gateway.identity import Identity
from backend.models import Answer

if TYPE_CHECKING:
    from backend.chat.service import ChatService
    from backend.chat.stream import AnswerStream
    from backend.gateway.service import Gateway

UI_CHAT_ROUTE = "ui:chat"  # the Chat page's rate-limit route, counted like an API route (per user and for all users)


class MeteredChat:
    """`platform.chat` behind `platform.gateway`'s rules, the same for the Chat page, /api/v1/ask and /v1.

    `route` names the rate-limit bucket to count the request on; None when the door has counted it already (the
    HTTP gate counts every request as it authenticates the key, before it reads the body). Usage is charged to the
    caller's tenant, as the quota is checked for it.
    """

    def __init__(self, gateway: Gateway, chat: ChatService):
        self.gateway = gateway
        self.chat = chat

    def admit(self, identity: Identity, route: str | None) -> None:
        """RateLimited past the caller's or the route's per-minute limit, then QuotaExceeded once the tenant's month
        is used up: both before any model call, so a refused question costs nothing and stores nothing."""
        if route is not None:
            self.gateway.check_rate(identity, route)
        self.gateway.check_quota(identity.tenant)

    def record(self, identity: Identity, answer: Answer) -> None:
        """What the answer spent, on the tenant's month (a cached answer spent nothing on a model)."""
        tokens, cost = (0, 0.0) if answer.cached else (answer.tokens_in + answer.tokens_out, answer.cost_usd)
        self.gateway.record_usage(identity.tenant, tokens, cost)

    def ask(self, identity: Identity, question, collection: str | None = None, conversation_id: str | None = None,
            *, route: str | None, ctx: RequestContext | None = None, **options) -> Answer:
        self.admit(identity, route)
        ctx = ctx or self.gateway.context_for(identity)
        with server_timing.measure():  # the core's share of an API request's time (its Server-Timing header)
            answer = self.chat.ask(question, collection, conversation_id, ctx=ctx, identity=identity, **options)
        self.record(identity, answer)
        return answer

    def ask_stream(self, identity: Identity, question, collection: str | None = None,
                   conversation_id: str | None = None, *, route: str | None, ctx: RequestContext | None = None,
                   on_answer: Callable[[Answer], None] | None = None, **options) -> AnswerStream:
        """Admits now (RateLimited, QuotaExceeded or bad input raise before the stream starts); the usage is recorded
        when the answer is complete, in the answering thread, even if the reader stops early."""
        self.admit(identity, route)

        def finished(answer: Answer) -> None:
            self.record(identity, answer)
            if on_answer is not None:
                on_answer(answer)

        return self.chat.ask_stream(question, collection, conversation_id, on_answer=finished,
                                    ctx=ctx or self.gateway.context_for(identity), identity=identity, **options)


def metered_chat(platform) -> MeteredChat:
    """The platform's chat service behind its gateway (cheap: two references, built per request)."""
    return MeteredChat(platform.gateway, platform.chat)
