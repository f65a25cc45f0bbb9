"""External MCP servers' status for operators (state, tools, last error, when checked) and a retry of one server."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from backend.context import WRITERS, RequestContext
from backend.models import Forbidden, NotFound
from backend.store.audit import audit
from backend.tools.external_config import FIELD, parse_servers

if TYPE_CHECKING:
    from backend.tools.builtin import PlatformTools
    from backend.tools.external_mcp import ServerStatus


@dataclass(frozen=True)
class ServerView:
    """One configured server as the Operations page and GET /api/v1/tools/servers show it."""

    name: str
    url: str  # scheme, host, port and path only: a query or fragment may carry a key
    state: str  # connected, failed, not_configured
    tools: list[str]  # registered, as <server>__<tool>
    error: str
    checked_at: datetime
    missing: list[str]  # allowlisted, but the server has no such tool
    refused: list[str]  # allowlisted, but its schema is unusable

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "state": self.state, "tool_count": len(self.tools),
                "tools": list(self.tools), "error": self.error, "checked_at": self.checked_at,
                "missing": list(self.missing), "refused": list(self.refused)}


def shown_url(url: str) -> str:
    """The URL without userinfo, query or fragment (config refuses userinfo; a query may still hold a key)."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _require_operator(ctx: RequestContext) -> None:
    if ctx.role not in WRITERS:
        raise Forbidden(f"the role {ctx.role} may not see or retry external tool servers (needs: admin or operator)")


def _view(status: ServerStatus) -> ServerView:
    return ServerView(name=status.name, url=shown_url(status.url), state=status.state, tools=list(status.tools),
                      error=status.error, checked_at=status.checked_at, missing=list(status.missing),
                      refused=list(status.refused))


def server_views(registry: PlatformTools, ctx: RequestContext) -> list[ServerView]:
    """Each configured server's last listing, in configuration order (empty: none configured). Operators and admins."""
    _require_operator(ctx)
    return [_view(status) for status in list(registry.servers)]


def retry_server(platform, ctx: RequestContext, name: str) -> ServerView:
    """List one server again now: on success its tools are (re)registered in the live registry, on failure its
    new error is recorded and its tools are absent; audited either way (`tool_server.retry`). NotFound for a name
    the configuration does not have."""
    view = _retry(platform.tools.registry, ctx, name)
    with platform.store.transaction("chat") as cur:  # an operator's action on shared configuration: on record
        audit(cur, "tool_server.retry", view.name, {"state": view.state, "tools": len(view.tools),
                                                    "error": view.error}, ctx.user)
    return view


def _retry(registry: PlatformTools, ctx: RequestContext, name: str) -> ServerView:
    from backend.tools.external_mcp import list_server

    _require_operator(ctx)
    known = {status.name for status in registry.servers}
    if name == FIELD and FIELD in known:  # the setting itself could not be read: read it again, every server
        servers = registry.refresh()
        if not servers:
            raise NotFound("name: the setting now configures no external tool server", field="name")
        return _view(next((s for s in servers if s.name == FIELD), servers[0]))
    configured = {server.name: server for server in parse_servers(registry.settings.mcp_servers)}
    server = configured.get(name)
    if server is None:
        raise NotFound(f"name: there is no external tool server named {name!r} (configured: "
                       f"{', '.join(sorted(configured)) or 'none'})", field="name")
    tools, status = list_server(server)
    registry.replace_server(tools, status)
    return _view(status)

