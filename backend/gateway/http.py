"""The HTTP API beside the UI: REST under /api/v1, OpenAI-compatible under /v1. Routes parse, authorise, call the
backend with the caller's RequestContext, and shape JSON; nothing else happens here."""
from __future__ import annotations

from dataclasses import asdict
from typing import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from backend.commands.ask import answer_json
from backend.commands.search import hit_dict
from backend.gateway.api_models import AskRequest, CreateCollectionRequest, DocumentsQuery, SearchRequest
from backend.gateway.gate import JSON, Gate, PlatformProvider
from backend.gateway.http_conversations import ConversationRoutes
from backend.gateway.http_documents import DocumentRoutes
from backend.gateway.http_errors import EXCEPTION_HANDLERS, ServerErrors, read_json, read_query
from backend.gateway.http_evaluation import EvaluationRoutes
from backend.gateway.http_openai import OpenAIRoutes
from backend.gateway.http_tickets import TicketRoutes
from backend.gateway.http_tools import ToolRoutes
from backend.gateway.http_traces import TraceRoutes
from backend.gateway.openapi import openapi_document
from backend.gateway.server_timing import ServerTiming
from backend.models import Answer, InputError


def _ask_json(answer: Answer) -> dict:
    return {**answer_json(answer), "conversation_id": answer.conversation_id or None, "message_id": answer.message_id,
            "tokens_in": answer.tokens_in, "tokens_out": answer.tokens_out, "cost_usd": answer.cost_usd,
            "tool_calls": answer.tool_calls}


def _document_id(request: Request) -> int:
    raw = request.path_params["id"]
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"document_id: {raw!r} is not a document id (a whole number)", field="document_id") from None


class RestRoutes:
    """/api/v1: health, the OpenAPI document, collections, documents (listed and read), search, ask."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def health(self, _request: Request) -> Response:
        self.gate.platform()  # 503 while the platform is not open
        return JSON({"status": "ok"})

    async def collections(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/collections")
        rows = await run_in_threadpool(caller.platform.corpus.collections, caller.ctx)
        return JSON({"collections": rows})

    async def create_collection(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "POST /api/v1/collections", scope="ingest")
        body = await read_json(request, CreateCollectionRequest)
        corpus = caller.platform.corpus

        def create() -> dict:
            row = corpus.create_collection(body.name, body.tenant, body.description, ctx=caller.ctx)
            return next(c for c in corpus.collections(caller.ctx) if c["name"] == row["name"])

        return JSON(await run_in_threadpool(create), status_code=201)

    async def documents(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/collections/{name}/documents")
        name = request.path_params["name"]
        query = read_query(request, DocumentsQuery)
        status = None if query.status == "all" else query.status
        corpus = caller.platform.corpus

        def read() -> tuple[list[dict], int]:
            filters = {"status": status, "title_contains": query.title_contains, "mime_type": query.mime_type}
            rows = corpus.documents(name, **filters, order_by=query.order_by, descending=query.descending,
                                    limit=query.limit, offset=query.offset, ctx=caller.ctx)
            return rows, corpus.count_documents(name, **filters, ctx=caller.ctx)

        rows, total = await run_in_threadpool(read)
        return JSON({"collection": name, "total": total, "limit": query.limit, "offset": query.offset, "documents": rows})

    async def document(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/documents/{id}")
        document = await run_in_threadpool(caller.platform.corpus.document, _document_id(request), caller.ctx)
        return JSON(asdict(document))

    async def search(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/search")
        body = await read_json(request, SearchRequest)
        settings = caller.platform.settings
        collection = body.collection or settings.default_collection
        hits = await run_in_threadpool(caller.platform.retriever.search, body.query, collection, body.mode, body.k,
                                       ctx=caller.ctx)
        return JSON({"query": body.query, "collection": collection, "mode": body.mode or settings.retrieval_mode,
                     "k": body.k or settings.top_k, "hits": [hit_dict(h) for h in hits]})

    async def ask(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/ask", scope="ask")
        body = await read_json(request, AskRequest)

        def answer() -> Answer:
            return self.gate.ask(caller, body.question, body.collection, body.conversation_id, mode=body.mode, k=body.k)

        return JSON(_ask_json(await self.gate.answering(answer)))

    async def openapi(self, _request: Request) -> Response:
        return JSON(openapi_document())

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/collections", self.collections, methods=["GET"]),
            Route("/collections", self.create_collection, methods=["POST"]),
            Route("/collections/{name}/documents", self.documents, methods=["GET"]),
            Route("/documents/{id}", self.document, methods=["GET"]),
            Route("/search", self.search, methods=["POST"]),
            Route("/ask", self.ask, methods=["POST"]),
        ]


API_PREFIXES = ("/api/v1/", "/v1/")


def _one_route_per_path(routes: list[BaseRoute]) -> list[BaseRoute]:
    """Routes of one path merged into one that dispatches by method. Starlette answers a method the path's first
    route lacks with 405 and that route's Allow header alone, even when a later route of the path has the method."""
    by_path: dict[str, list[Route]] = {}
    for route in routes:
        assert isinstance(route, Route) and route.methods is not None, route
        by_path.setdefault(route.path, []).append(route)
    merged: list[BaseRoute] = []
    for path, same in by_path.items():
        if len(same) == 1:
            merged.append(same[0])
            continue
        handlers: dict[str, Callable] = {method: r.endpoint for r in same for method in r.methods or ()}

        async def dispatch(request: Request, handlers: dict[str, Callable] = handlers) -> Response:
            return await handlers[request.method](request)

        merged.append(Route(path, dispatch, methods=list(handlers)))
    return merged


def api_routes(provider: PlatformProvider) -> list[BaseRoute]:
    """The API's two mounts, each a small Starlette app with JSON errors, for st.App(routes=...)."""
    gate = Gate(provider)
    # One route group per resource; a path two groups share (GET and POST .../documents) is one route.
    rest = _one_route_per_path([route for group in (RestRoutes(gate), DocumentRoutes(gate), ConversationRoutes(gate),
                                                    TraceRoutes(gate), EvaluationRoutes(gate), ToolRoutes(gate),
                                                    TicketRoutes(gate))
            for route in group.routes()])
    apps = [Starlette(routes=routes, middleware=[Middleware(ServerTiming), Middleware(ServerErrors)], exception_handlers=EXCEPTION_HANDLERS)
            for routes in (rest, OpenAIRoutes(gate).routes())]
    return [Mount("/api/v1", app=apps[0]), Mount("/v1", app=apps[1])]
