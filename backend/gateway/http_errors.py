"""The HTTP API's errors: every failure is `{"error": {"message", "field"}}` with its status; request bodies read and validated."""
from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.gateway.identity import Forbidden, QuotaExceeded, RateLimited, Unauthorized
from backend.models import Conflict, GroundworkError, InputError, NotFound

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000  # a question with its transcript, not a document: uploads have theirs (http_uploads)
Model = TypeVar("Model", bound=BaseModel)
_LEADING_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): ")  # the backend's convention: "k: 60 is out of range"


class ApiError(Exception):
    """An error the HTTP layer itself answers (malformed JSON, a body too large, an unknown route)."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def error_response(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None,
                   details: list[dict] | None = None) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "field": field}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def field_of(exc: InputError) -> str | None:
    """The request field an input error is about: the one its raiser named, else its message's leading `name:`."""
    if exc.field:
        return exc.field
    match = _LEADING_FIELD.match(str(exc))
    return match.group(1) if match else None


def renamed(exc: InputError, fields: dict[str, str]) -> InputError:
    """A copy of the error naming the field as this route's body calls it (the OpenAI route's `model` is a collection)."""
    field = field_of(exc)
    return type(exc)(str(exc), field=fields.get(field or "", field))


def seconds_to_next_month(now: datetime | None = None) -> int:
    """Quotas are monthly: when a quota error does not say when to retry, the next month starts it afresh."""
    now = now or datetime.now(timezone.utc)
    start = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=timezone.utc)
    return max(1, int((start - now).total_seconds()))


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.field)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    details: list[dict] = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or None
        details.append({"field": field, "message": f"{field}: {error['msg']}" if field else str(error["msg"])})
    first: dict = details[0] if details else {"field": None, "message": "invalid request"}
    return error_response(422, first["message"], first["field"], details=details)


async def _groundwork_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, Unauthorized):
        return error_response(401, str(exc), "authorization", headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, Forbidden):
        return error_response(403, str(exc))
    if isinstance(exc, RateLimited):
        return error_response(429, str(exc), headers={"Retry-After": str(max(1, exc.retry_after))})
    if isinstance(exc, QuotaExceeded):
        retry_after = getattr(exc, "retry_after", None) or seconds_to_next_month()
        return error_response(429, str(exc), headers={"Retry-After": str(int(retry_after))})
    if isinstance(exc, InputError):
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
        return error_response(status, str(exc), field_of(exc))
    logger.warning("request failed: %s", exc)
    return error_response(503, str(exc))  # a backend that cannot answer now (e.g. an LLM server down)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = {404: "no such endpoint", 405: "method not allowed on this endpoint"}.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, message, headers=dict(exc.headers or {}))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: _api_error,
    ValidationError: _validation_error,
    GroundworkError: _groundwork_error,
    HTTPException: _http_error,
}


class ServerErrors:
    """ASGI middleware: an unexpected exception becomes the API's JSON 500, logged with its traceback. Starlette's
    own `Exception` handler re-raises after answering, and the server then drops the client's keep-alive
    connection, so its next request fails too; this one answers and returns."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            logger.exception("unexpected error in the HTTP API: %s %s", scope.get("method"), scope.get("path"))
            if started:  # a stream broke midway: there is no status left to answer with
                raise
            await error_response(500, "internal error; the server log has the details")(scope, receive, send)


async def read_json(request: Request, model: type[Model]) -> Model:
    """The body as `model`: 413 past MAX_BODY_BYTES, 400 when it is not JSON, 422 naming the first bad field."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body: {int(declared):,} bytes, over the limit of {MAX_BODY_BYTES:,}")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body: over the limit of {MAX_BODY_BYTES:,} bytes")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"request body: not valid JSON ({exc})") from None
    try:  # JSON may escape half a UTF-16 pair ("\ud800"): not text, and no part of the backend could store it
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "request body: a string holds an unpaired surrogate (such as \\ud800), which is not text") from None
    return model.model_validate(data)


def read_query(request: Request, model: type[Model]) -> Model:
    """The query string as `model` (422 naming the first bad parameter, or one given twice: every parameter is
    one value, and silently taking the last of `?limit=1&limit=500` would answer a question nobody asked)."""
    repeated = sorted({key for key, _ in request.query_params.multi_items()
                       if len(request.query_params.getlist(key)) > 1})
    if repeated:
        raise ApiError(422, f"{repeated[0]}: give this query parameter once", field=repeated[0])
    return model.model_validate(dict(request.query_params))


def path_id(request: Request, field: str, noun: str, largest: int = 2**31 - 1) -> int:
    """The `{id}` path parameter as a whole number: 400 naming `field` when it is not one. One outside the column's
    range (DuckDB could not even compare it) is as unknown as any other id that does not exist."""
    raw = request.path_params["id"]
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{field}: {raw!r} is not an id (a whole number)", field=field) from None
    if not 0 <= value <= largest:
        raise NotFound(f"unknown {noun} id {value}", field=field)
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafeApiPaths:
    """ASGI middleware, outside Streamlit's own: an API path that Streamlit's path-security check would refuse (a
    NUL, a traversal, a drive or UNC path) is refused here first, as the API's JSON 400, not Streamlit's text."""

    def __init__(self, app: ASGIApp, unsafe: Callable[[str], bool], prefixes: tuple[str, ...]):
        self.app, self.unsafe, self.prefixes = app, unsafe, prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        # A control character (a decoded %0A) also never reaches our routes: Starlette's Mount pattern `.*` stops
        # at a newline, and Streamlit would answer with its plain-text 404.
        if path.startswith(self.prefixes) and (self.unsafe(path.lstrip("/")) or _CONTROL.search(path)):
            await error_response(400, "path: not a path this API answers (control characters or a file path in it)",
                                 "path")(scope, receive, send)
            return
        await self.app(scope, receive, send)
