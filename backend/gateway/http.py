"""The HTTP API beside the UI: REST under /api/v1, OpenAI-compatible under /v1. Routes parse, authorise, call the
backend with the caller's RequestContext, and shape JSON; nothing else happens here."""
from __future__ import annotations

from dataclasses import asdict

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from backend.commands.ask import answer_json
from backend.commands.search import hit_dict
from backend.gateway.api_models import AskRequest, DocumentsQuery, SearchRequest
from backend.gateway.gate import JSON, Gate, PlatformProvider
from backend.gateway.http_errors import EXCEPTION_HANDLERS, ServerErrors, read_json, read_query
from backend.gateway.http_openai import OpenAIRoutes
from backend.gateway.openapi import openapi_document
from backend.models import Answer, InputError


def _ask_json(answer: Answer) -> dict:
    return {**answer_json(answer), "conversation_id": answer.conversation_id or None, "message_id": answer.message_id,
            "tokens_in": answer.tokens_in, "tokens_out": answer.tokens_out, "cost_usd": answer.cost_usd}


def _document_id(request: Request) -> int:
    raw = request.path_params["id"]
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"document_id: {raw!r} is not a document id (a whole number)", field="document_id") from None


class RestRoutes:
    """/api/v1: health, collections, documents, search, ask."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def health(self, _request: Request) -> Response:
        self.gate.platform()  # 503 while the platform is not open
        return JSON({"status": "ok"})

    async def collections(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/collections")
        rows = await run_in_threadpool(caller.platform.corpus.collections, caller.ctx)
        return JSON({"collections": rows})

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
            self.gate.check_quota(caller)
            result = caller.platform.chat.ask(body.question, body.collection, body.conversation_id, mode=body.mode,
                                              k=body.k, ctx=caller.ctx)
            self.gate.record_usage(caller, result)
            return result

        return JSON(_ask_json(await run_in_threadpool(answer)))

    async def openapi(self, _request: Request) -> Response:
        return JSON(openapi_document())

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/collections", self.collections, methods=["GET"]),
            Route("/collections/{name}/documents", self.documents, methods=["GET"]),
            Route("/documents/{id}", self.document, methods=["GET"]),
            Route("/search", self.search, methods=["POST"]),
            Route("/ask", self.ask, methods=["POST"]),
        ]


API_PREFIXES = ("/api/v1/", "/v1/")


def api_routes(provider: PlatformProvider) -> list[BaseRoute]:
    """The API's two mounts, each a small Starlette app with JSON errors, for st.App(routes=...)."""
    gate = Gate(provider)
    apps = [Starlette(routes=routes, middleware=[Middleware(ServerErrors)], exception_handlers=EXCEPTION_HANDLERS)
            for routes in (RestRoutes(gate).routes(), OpenAIRoutes(gate).routes())]
    return [Mount("/api/v1", app=apps[0]), Mount("/v1", app=apps[1])]
