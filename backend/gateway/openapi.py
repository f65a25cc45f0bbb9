"""The API's OpenAPI 3.1 document: paths written here, every body's schema generated from backend.gateway.api_models."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backend.gateway import api_models as m
from backend.gateway import api_models_corpus as mc
from backend.gateway import api_models_evaluation as me
from backend.gateway import api_models_history as mh
from backend.gateway import api_models_tickets as mk
from backend.gateway import api_models_tools as mt
from backend.gateway.http_uploads import MAX_FILES

_REQUESTS: list[type[BaseModel]] = [m.SearchRequest, m.AskRequest, m.ChatCompletionRequest, m.FeedbackRequest,
                                    m.CreateCollectionRequest, mh.RenameConversationRequest, mt.ToolCallRequest,
                                    mk.TicketStatusChange]
_MORE_RESPONSES: list[type[BaseModel]] = [mc.CollectionStats, mc.UploadResult, mc.IngestRun, mc.DeletedDocument,
                                          mc.PersonalDataDocuments,
                                          mh.Feedback, mh.ConversationList, mh.Conversation, mh.TraceList, mh.Trace,
                                          mh.ConversationSummary, mh.DeletedConversation, mh.ConversationExport,
                                          mt.ToolList, mt.ToolCallRecord, mt.ToolRefusal, mt.ToolServerList, mt.ToolServer, mk.Ticket, mk.TicketList]
_RESPONSES: list[type[BaseModel]] = [m.ErrorBody, m.Health, m.Collection, m.CollectionList, m.DocumentList, m.Document,
                                     m.SearchResponse, m.AskResponse, m.ModelList, m.ChatCompletion, *me.RESPONSES]
_ERRORS = {
    400: "bad input; `error.field` names the field",
    401: "no API key, or an unknown, expired or revoked one",
    403: "the key may not do this (its scopes or role)",
    404: "no such collection, document, run, conversation, message, trace, tool or ticket (or not one the caller "
         "may read)",
    409: "the current state refuses it: a name already taken, a document already deleted, a collection indexed with "
         "other settings",
    413: "request body too large (an upload: a file over the upload limit, named)",
    422: "the body or query does not match its schema; `error.field` names the first bad field",
    429: "rate limit or monthly quota reached; see Retry-After",
    504: "the tool gave no result within its timeout",
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


def _created(schema: dict) -> dict[str, Any]:
    return {"201": {"description": "Created", "content": {"application/json": {"schema": schema}}}}


def _more_paths(ref: Callable[[type[BaseModel]], dict], name: dict, document_id: dict) -> dict[str, dict[str, Any]]:
    """Corpus changes, ingest runs, conversations, feedback and traces (merged into the paths by method)."""
    integer_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    string_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    conversation_id = {**string_id, "description": "conversation id"}
    files = {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "additionalProperties": False,
        "properties": {"file": {"type": "array", "minItems": 1, "maxItems": MAX_FILES,
                                "items": {"type": "string", "format": "binary"},
                                "description": "one part named `file` per file (pdf, docx, pptx, html, md, txt, csv, "
                                               "xlsx, eml, msg, png, jpeg, tiff), "
                                               "each within the server's upload limit (GROUNDWORK_UPLOAD_MAX_MB)"}}}}}
    upload = _operation("uploadDocuments", "Ingest the files sent as multipart parts named `file` (needs the 'ingest' "
                        "scope; operators and admins of the collection's tenant): the run id and one outcome per file",
                        _created(ref(mc.UploadResult)), 404, 409, 413, 422,
                        parameters=[name, *_query_parameters(mc.UploadQuery)])
    upload["requestBody"] = {"required": True, "content": files}
    return {
        "/api/v1/collections/{name}/stats": {"get": _operation(
            "collectionStats", "One collection as `stats --json` prints it: counts, mime types, index sizes and what "
            "built its index", _ok(ref(mc.CollectionStats)), 404, parameters=[name])},
        "/api/v1/collections/{name}/documents": {"post": upload},
        "/api/v1/ingest-runs/{id}": {"get": _operation(
            "getIngestRun", "An ingest run's status and per-file outcomes", _ok(ref(mc.IngestRun)), 404,
            parameters=[{**integer_id, "description": "ingest run id"}])},
        "/api/v1/documents/{id}": {"delete": _operation(
            "deleteDocument", "Delete a document: its chunks leave the indexes, its versions stay recorded, the audit "
            "log names the caller (needs the 'ingest' scope; operators and admins)", _ok(ref(mc.DeletedDocument)),
            404, 409, parameters=[document_id])},
        "/api/v1/personal-data/documents": {"get": _operation(
            "findPersonalData", "Which of the caller's documents hold this e-mail address, phone number, name or IBAN "
            "(its salted hash against the findings recorded at ingest): where, by chunk and page (operators and "
            "admins)", _ok(ref(mc.PersonalDataDocuments)), 404, 422,
            parameters=[{**p, "required": p["name"] == "value"} for p in _query_parameters(mc.PersonalDataQuery)])},
        "/api/v1/feedback": {"post": _operation(
            "rateAnswer", "Rate one of the caller's own answers (needs the 'ask' scope)", _ok(ref(mh.Feedback)),
            404, 413, 422, body=ref(m.FeedbackRequest))},
        "/api/v1/conversations": {"get": _operation(
            "listConversations", "The caller's own conversations, newest first; with `q`, those whose title, questions "
            "or answers hold that text", _ok(ref(mh.ConversationList)), 404, 422,
            parameters=_query_parameters(mh.ConversationSearchQuery))},
        "/api/v1/conversations/{id}": {"get": _operation(
            "getConversation", "One of the caller's conversations: its messages, the answers with their citations",
            _ok(ref(mh.Conversation)), 404, parameters=[conversation_id]),
            "patch": _operation(
            "renameConversation", "Rename one of the caller's conversations (needs the 'ask' scope)",
            _ok(ref(mh.ConversationSummary)), 404, 413, 422, body=ref(mh.RenameConversationRequest),
            parameters=[conversation_id]),
            "delete": _operation(
            "deleteConversation", "Delete one of the caller's conversations with its messages and their ratings, in "
            "one transaction (needs the 'ask' scope)", _ok(ref(mh.DeletedConversation)), 404,
            parameters=[conversation_id])},
        "/api/v1/conversations/{id}/export": {"get": _operation(
            "exportConversation", "One of the caller's conversations as a file: Markdown, or JSON with each answer's "
            "citations (marker, title, page, quote); audited", _ok(ref(mh.ConversationExport), {
                "text/markdown": {"schema": {"type": "string", "description": "with `format=markdown`"}}}), 404, 422,
            parameters=[conversation_id, *_query_parameters(mh.ExportQuery)])},
        "/api/v1/traces": {"get": _operation(
            "listTraces", "Request traces of the caller's collections, newest first (operators and admins)",
            _ok(ref(mh.TraceList)), 404, 422, parameters=_query_parameters(m.TracesQuery))},
        "/api/v1/traces/{trace_id}": {"get": _operation(
            "getTrace", "One request's trace with its spans and the chunks it retrieved", _ok(ref(mh.Trace)), 404,
            parameters=[{"name": "trace_id", "in": "path", "required": True, "schema": {"type": "string"},
                         "description": "trace id"}])},
    }


def _tool_paths(ref: Callable[[type[BaseModel]], dict]) -> dict[str, dict[str, Any]]:
    """The tools: listed for the caller, and one called through the guarded executor (a refusal carries its record)."""
    tool_name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                 "description": "tool name, as GET /api/v1/tools lists it"}
    call = _operation("callTool", "Call one tool as the key's user (its role, scopes and collections), through every "
                      "guard: schema, size, rate limit, timeout; audited. A write tool (create_ticket) needs a key "
                      "holding its scope", _ok(ref(mt.ToolCallRecord)), 404, 413, 422, 504, body=ref(mt.ToolCallRequest),
                      parameters=[tool_name])
    for code in ("403", "404", "422", "429", "504"):
        call["responses"][code]["content"]["application/json"]["schema"] = ref(mt.ToolRefusal)
    return {
        "/api/v1/tools": {"get": _operation("listTools", "The tools the caller may call, each with the JSON schema of "
                                            "its arguments", _ok(ref(mt.ToolList)))},
        "/api/v1/tools/{name}": {"post": call},
        "/api/v1/tools/servers": {"get": _operation(
            "listToolServers", "The configured external MCP servers: state, registered tools, last error, when "
            "last checked (operators and admins)", _ok(ref(mt.ToolServerList)))},
        "/api/v1/tools/servers/{name}/retry": {"post": _operation(
            "retryToolServer", "List one external MCP server's tools again now; on success they are registered for "
            "every session (operators and admins)", _ok(ref(mt.ToolServer)), 404, parameters=[
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                 "description": "server name, as GET /api/v1/tools/servers lists it"}])},
    }


def _ticket_paths(ref: Callable[[type[BaseModel]], dict]) -> dict[str, dict[str, Any]]:
    """The ticket desk: tickets listed and read as the caller may, closed and reopened by operators and admins."""
    ticket_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}, "description": "ticket id"}
    return {
        "/api/v1/tickets": {"get": _operation(
            "listTickets", "Tickets create_ticket opened, newest first: operators and admins see their tenants', "
            "anyone else the ones they opened", _ok(ref(mk.TicketList)), 422,
            parameters=_query_parameters(mk.TicketsQuery))},
        "/api/v1/tickets/{id}": {"get": _operation(
            "getTicket", "One ticket the caller may read", _ok(ref(mk.Ticket)), 404, parameters=[ticket_id]),
            "patch": _operation(
            "setTicketStatus", "Close or reopen a ticket (needs the 'tickets' scope; operators and admins of its "
            "tenant); audited", _ok(ref(mk.Ticket)), 404, 413, 422, body=ref(mk.TicketStatusChange),
            parameters=[ticket_id])},
    }


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
    return [{"name": name, "in": "query", "required": False, "schema": _without_null(prop)}
            for name, prop in schema["properties"].items()]


def _without_null(prop: dict) -> dict:
    """A query parameter is absent or a string: an optional field's `null` branch cannot be sent (a client that
    tries sends `?name=`, an empty string), so the schema offers only the value's own type."""
    options = prop.get("anyOf")
    if not options or {"type": "null"} not in options:
        return prop
    kept = [option for option in options if option != {"type": "null"}]
    rest = {key: value for key, value in prop.items() if key not in ("anyOf", "default")}
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    modes: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        *((model, "validation") for model in _REQUESTS),
        *((model, "serialization") for model in (*_RESPONSES, *_MORE_RESPONSES))]
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
                                                  _ok(ref(m.CollectionList))),
                                "post": _operation(
            "createCollection", "Create a collection in the caller's tenant, or one of theirs (needs the 'ingest' scope; "
            "operators and admins)", _created(ref(m.Collection)), 409, 413, 422, body=ref(m.CreateCollectionRequest))},
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
        "/api/v1/evaluation/runs": {"get": _operation(
            "listEvaluationRuns", "The evaluation runs of the caller's collections, newest first", _ok(ref(me.RunList)),
            404, 422, parameters=_query_parameters(me.RunsQuery))},
        "/api/v1/evaluation/runs/{id}": {"get": _operation(
            "getEvaluationRun", "One run: its settings, summary metrics and per-question rows", _ok(ref(me.RunDetail)),
            404, 422, parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"},
                                   "description": "run id"}, *_query_parameters(me.RunQuery)])},
        "/api/v1/evaluation/leaderboard": {"get": _operation(
            "evaluationLeaderboard", "Finished runs ranked by a metric", _ok(ref(me.Leaderboard)), 404, 422,
            parameters=_query_parameters(me.LeaderboardQuery))},
    }
    for path, operations in {**_more_paths(ref, name, document_id), **_tool_paths(ref),
                            **_ticket_paths(ref)}.items():
        paths.setdefault(path, {}).update(operations)
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
