"""The tools a platform offers: the built-ins (documents, tables, calculate, create_ticket) and external MCP servers' allowlisted ones."""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from backend.models import InputError
from backend.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from backend.settings import Settings
    from backend.tools.external_mcp import ExternalTool, ServerStatus
    from backend.tools.spec import Tool

logger = logging.getLogger(__name__)


def builtin_tools() -> list[Tool]:
    from backend.tools.calculator import CALCULATE
    from backend.tools.documents import READ_DOCUMENT_SECTION, SEARCH_DOCUMENTS
    from backend.tools.tables import QUERY_TABLE
    from backend.tools.tickets import CREATE_TICKET

    return [SEARCH_DOCUMENTS, READ_DOCUMENT_SECTION, QUERY_TABLE, CALCULATE, CREATE_TICKET]


def builtin_registry() -> ToolRegistry:
    return ToolRegistry(builtin_tools())


class PlatformTools(ToolRegistry):
    """The built-ins and the external MCP servers' allowlisted tools; `servers` says what listing each server found
    (its registered tools, or why it is unavailable)."""

    def __init__(self, settings: Settings):
        super().__init__(builtin_tools())
        self.settings = settings
        self.servers: list[ServerStatus] = []
        self._builtin = dict(self._tools)
        self._swap = threading.Lock()  # two retries (or a retry and a refresh) never drop each other's tools
        self.refresh()

    def refresh(self) -> list[ServerStatus]:
        """List the configured servers again (one unreachable at start may answer now) and swap their tools in at
        once: a caller iterating the registry meanwhile sees the old set or the new one, never half of each."""
        from backend.tools.external_config import FIELD, parse_servers
        from backend.tools.external_mcp import ServerStatus, external_tools

        try:
            configured = parse_servers(self.settings.mcp_servers)
        except InputError as exc:  # a file edited since the settings were read: the built-ins still work
            logger.error("external MCP servers not registered: %s", exc)
            self._tools, self.servers = dict(self._builtin), [ServerStatus(name=FIELD, url="", error=str(exc))]
            return self.servers
        tools, servers = external_tools(configured)
        merged = dict(self._builtin)
        for tool in tools:  # names are <server>__<tool>: never a built-in's, never another server's
            merged[tool.name] = tool
        with self._swap:
            self._tools, self.servers = merged, servers
        return servers

    def replace_server(self, tools: list[ExternalTool], status: ServerStatus) -> None:
        """One server listed again: its old tools out, these in, its status in place (or added), swapped at once."""
        with self._swap:
            merged = {name: tool for name, tool in self._tools.items()
                      if getattr(tool, "server", None) != status.name}
            for tool in tools:
                merged[tool.name] = tool
            servers = [s for s in self.servers if s.name != status.name]
            at = next((i for i, s in enumerate(self.servers) if s.name == status.name), len(servers))
            servers.insert(at, status)
            self._tools, self.servers = merged, servers

    def unavailable(self) -> list[ServerStatus]:
        return [server for server in self.servers if not server.available]


def platform_registry(settings: Settings) -> PlatformTools:
    return PlatformTools(settings)
