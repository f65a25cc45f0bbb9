"""/api/v1/tickets: the hand-overs create_ticket opened, listed and read as the key's user, closed and reopened by operators."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from backend.gateway.api_models_tickets import TicketsQuery, TicketStatusChange
from backend.gateway.gate import JSON, Gate
from backend.gateway.http_errors import path_id, read_json, read_query
from backend.tools.tickets import get_ticket, list_tickets, set_ticket_status


class TicketRoutes:
    """GET /tickets, GET /tickets/{id}, PATCH /tickets/{id}: scoped by the caller's RequestContext in the backend
    (another tenant's ticket, or a colleague's for an analyst, is 404 as an unknown id is)."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def tickets(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/tickets")
        query = read_query(request, TicketsQuery)
        rows = await run_in_threadpool(list_tickets, caller.platform, caller.ctx, query.status, query.limit)
        return JSON({"tickets": rows})

    async def ticket(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/tickets/{id}")
        ticket_id = path_id(request, "ticket_id", "ticket")
        return JSON(await run_in_threadpool(get_ticket, caller.platform, caller.ctx, ticket_id))

    async def change(self, request: Request) -> Response:
        # The 'tickets' scope (a key's right to act on tickets), then the role in the backend: an analyst's key
        # holding the scope may open tickets but not close them (403).
        caller = await self.gate.caller(request, "PATCH /api/v1/tickets/{id}", scope="tickets")
        ticket_id = path_id(request, "ticket_id", "ticket")
        body = await read_json(request, TicketStatusChange)
        return JSON(await run_in_threadpool(set_ticket_status, caller.platform, caller.ctx, ticket_id, body.status,
                                            caller.identity.key_id))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/tickets", self.tickets, methods=["GET"]),
            Route("/tickets/{id}", self.ticket, methods=["GET"]),
            Route("/tickets/{id}", self.change, methods=["PATCH"]),
        ]
