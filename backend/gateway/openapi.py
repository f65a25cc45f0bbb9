"""The API's OpenAPI 3.1 document: paths written here, every body's schema generated from backend.gateway.api_models."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backend.gateway import api_models as m

_REQUESTS: list[type[BaseModel]] = [m.SearchRequest, m.AskRequest, m.ChatCompletionRequest]
_RESPONSES: list[type[BaseModel]] = [m.ErrorBody, m.Health, m.CollectionList, m.DocumentList, m.Document,
                                     m.SearchResponse, m.AskResponse, m.ModelList, m.ChatCompletion]
_ERRORS = {
    400: "bad input; `error.field` names the field",
    401: "no API key, or an unknown, expired or revoked one",
    403: "the key may not do this (its scopes or role)",
    404: "no such collection or document (or not one the caller may read)",
    413: "request body too large",
    422: "the body or query does not match its schema; `error.field` names the first bad field",
    429: "rate limit or monthly quota reached; see Retry-After",
}


def _errors(*codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        response: dict[str, Any] = {"description": _ERRORS[code],
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        if code == 429:
            response["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
        out[str(code)] = response
    return out


def _ok(schema: dict, more_content: dict | None = None) -> dict[str, Any]:
    return {"200": {"description": "OK", "content": {"application/json": {"schema": schema}, **(more_content or {})}}}


def _operation(operation_id: str, summary: str, ok: dict, *errors: int, body: dict | None = None,
               parameters: list | None = None, public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary,
                          "responses": {**ok, **_errors(*((400, 401, 403, 429) if not public else ()), *errors)}}
    if public:
        op["security"] = []
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema()
    return [{"name": name, "in": "query", "required": False, "schema": prop} for name, prop in schema["properties"].items()]


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    modes: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        *((model, "validation") for model in _REQUESTS), *((model, "serialization") for model in _RESPONSES)]
    refs, definitions = models_json_schema(modes, ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel]) -> dict:
        return refs[(model, "validation" if model in _REQUESTS else "serialization")]

    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}, "description": "collection"}
    document_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}, "description": "document id"}
    streamed = {"text/event-stream": {"schema": {"type": "string", "description": "with `stream: true`: OpenAI's "
                "chat.completion.chunk events; the last chunk's delta carries `citations`; then `data: [DONE]`"}}}
    paths = {
        "/api/v1/health": {"get": _operation("health", "Is the server up (no key needed)", _ok(ref(m.Health)),
                                             public=True)},
        "/api/v1/openapi.json": {"get": _operation("openapi", "This document", _ok({"type": "object"}), public=True)},
        "/api/v1/collections": {"get": _operation("listCollections", "The collections the caller may read",
                                                  _ok(ref(m.CollectionList)))},
        "/api/v1/collections/{name}/documents": {"get": _operation(
            "listDocuments", "A collection's documents, filtered, sorted and paged", _ok(ref(m.DocumentList)), 404, 422,
            parameters=[name, *_query_parameters(m.DocumentsQuery)])},
        "/api/v1/documents/{id}": {"get": _operation("getDocument", "One document with its text and sections",
                                                     _ok(ref(m.Document)), 404, parameters=[document_id])},
        "/api/v1/search": {"post": _operation("search", "Ranked chunks with each retriever's score",
                                              _ok(ref(m.SearchResponse)), 404, 413, 422, body=ref(m.SearchRequest))},
        "/api/v1/ask": {"post": _operation("ask", "A grounded answer with citations (needs the 'ask' scope)",
                                           _ok(ref(m.AskResponse)), 404, 413, 422, body=ref(m.AskRequest))},
        "/v1/models": {"get": _operation("listModels", "OpenAI-compatible: the caller's collections as models",
                                         _ok(ref(m.ModelList)))},
        "/v1/chat/completions": {"post": _operation(
            "createChatCompletion", "OpenAI-compatible chat completion over the collection named by `model`",
            _ok(ref(m.ChatCompletion), streamed), 404, 413, 422, body=ref(m.ChatCompletionRequest))},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Groundwork API", "version": "1",
                 "description": "Grounded answers with citations over your collections. Every call but health and this "
                                "document needs `Authorization: Bearer <API key>`; errors are "
                                '`{"error": {"message": ..., "field": ...}}`.'},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {}),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
