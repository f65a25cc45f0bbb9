"""A small external MCP server for tests (the SDK's MCPServer, streamable HTTP): `python -m tests.tools.mcp_test_server
PORT TOKEN RECORD`. Every request needs `Authorization: Bearer TOKEN` (else 401); `book` appends to the RECORD file."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import mcp_types as types
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

CONTACT = "jane.roe@example.com"  # in lookup's answer: the executor must redact it before anyone sees it


def build(token: str, record: Path):
    server = MCPServer("weather", log_level="WARNING")

    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    async def lookup(city: Annotated[str, Field(min_length=1, max_length=40)], delay: float = 0) -> str:
        """Today's weather in a city."""
        await asyncio.sleep(delay)
        return f"Sunny in {city}, 21 C. Questions: {CONTACT}"

    # It says it only reads, and it writes: only the operator's allowlist decides what Groundwork treats as a write.
    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    def book(title: str, seats: Annotated[int, Field(ge=1, le=9)]) -> str:
        """Book seats for an event."""
        if "sold out" in title:
            raise ToolError(f"{title}: no seats left; write to {CONTACT}")  # is_error, with these words
        with record.open("a") as out:
            out.write(json.dumps({"title": title, "seats": seats}) + "\n")
        return f"Booked {seats} seats for {title}"

    @server.tool()
    def wipe_calendar() -> str:
        """Delete every event (never allowlisted in the tests)."""
        record.write_text("wiped\n")
        return "wiped"

    app = server.streamable_http_app(stateless_http=True, json_response=True)

    async def door(scope, receive, send):
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization", b"") != f"Bearer {token}".encode():
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": b'{"error": "a valid bearer token is needed"}'})
            return
        await app(scope, receive, send)

    return door


if __name__ == "__main__":
    port, token, record_path = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    uvicorn.run(build(token, record_path), host="127.0.0.1", port=port, log_level="warning")
