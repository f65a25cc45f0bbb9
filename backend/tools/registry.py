"""The tools a platform offers, by name, and which of them one caller may see and call."""
from __future__ import annotations

from typing import Iterable

from backend.tools.spec import Tool, ToolCaller


class ToolRegistry:
    """Tools by name. `for_caller` is what a model, MCP or the API may be told about: the caller's role may
    call it and (for an API key) the key holds its scope. The executor checks the same again on every call."""

    def __init__(self, tools: Iterable[Tool] = ()):
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is registered already")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def __iter__(self):
        return iter(self._tools[name] for name in self.names())

    def for_caller(self, caller: ToolCaller) -> list[Tool]:
        return [tool for tool in self if allowed(tool, caller)]


def allowed(tool: Tool, caller: ToolCaller) -> bool:
    """The caller's role may use the tool, and an API key holds its scope (a session has its role's scopes)."""
    identity = caller.identity
    if identity.role not in tool.roles:
        return False
    return identity.key_id is None or tool.scope in identity.scopes
