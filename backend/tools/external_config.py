"""The external MCP servers setting: per server its URL, token variable, timeout, roles, and the allowlist of its tools."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.gateway.identity import ROLES, SCOPES
from backend.models import InputError

FIELD = "mcp_servers"
# OpenAI's rule for a function's name; a registered name is `<server>__<tool>` (a dot is not allowed in it).
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SEPARATOR = "__"
READERS = ("admin", "operator", "analyst")  # as backend.tools.spec.READERS: who may read documents' text
_SERVER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_)){0,29}$")  # no "__": it separates server and tool
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SECRET_KEYS = ("token", "bearer", "authorization", "headers", "api_key", "password")


class AllowedTool(BaseModel):
    """One allowlisted tool of a server. It writes unless the operator says it only reads: a server's own
    `readOnlyHint` is not trusted."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="the tool's name on the server")
    read_only: bool = Field(False, description="the operator vouches that it changes nothing (else: a write tool)")
    roles: list[str] | None = Field(None, description="roles that may call it (default: the server's)")
    scope: str | None = Field(None, description="the API-key scope a call needs (default: read for a read-only tool, "
                                                "admin for a write: only an admin key runs it without a person)")
    timeout_s: float | None = Field(None, gt=0, le=300, description="default: the server's")
    per_minute: int | None = Field(None, ge=1, description="calls per user per minute (default: the setting)")
    description: str | None = Field(None, min_length=1, max_length=1000,
                                    description="shown to models instead of the server's own description")

    @field_validator("name")
    @classmethod
    def _no_wildcard(cls, name: str) -> str:
        if any(ch in name for ch in "*?["):
            raise ValueError("list each tool by its name: no wildcards (a server's new tools are never added unseen)")
        return name


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="short name; the server's tools are registered as <name>__<tool>")
    url: str = Field(description="the streamable-HTTP endpoint, e.g. https://crm.example.com/mcp")
    token_env: str | None = Field(None, description="environment variable holding the bearer token (never the token)")
    timeout_s: float = Field(10.0, gt=0, le=300, description="seconds for listing and for each call")
    roles: list[str] = Field(default_factory=lambda: list(READERS), description="roles that may call its tools")
    max_result_chars: int = Field(20_000, ge=100, le=1_000_000, description="a longer result is cut")
    tools: list[AllowedTool] = Field(min_length=1, description="the allowlist: only these are registered")

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            tools = data.get("tools")
            if isinstance(tools, list):  # a bare name is a write tool with the server's defaults
                data = {**data, "tools": [{"name": t} if isinstance(t, str) else t for t in tools]}
            secret = next((key for key in data if str(key).lower() in _SECRET_KEYS), None)
            if secret is not None:
                raise ValueError(f"{secret}: no secret in the configuration; put the token in an environment "
                                 "variable and name that variable in token_env")
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _SERVER_NAME.match(name):
            raise ValueError("use 1-30 letters, digits, '-' or single '_', starting with a letter or digit")
        return name

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("give the server's http:// or https:// endpoint")
        if parts.username or parts.password:
            raise ValueError("no credentials in the URL: put the token in an environment variable named by token_env")
        return url

    @field_validator("token_env")
    @classmethod
    def _env(cls, name: str | None) -> str | None:
        if name is not None and not _ENV_NAME.match(name):
            raise ValueError("the name of an environment variable (letters, digits, '_'), not its value")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> ServerConfig:
        for where, roles in [("roles", self.roles)] + [(f"tools.{t.name}.roles", t.roles) for t in self.tools]:
            unknown = sorted(set(roles or ()) - set(ROLES))
            if unknown:
                raise ValueError(f"{where}: {', '.join(map(repr, unknown))} is not a role (roles: {', '.join(ROLES)})")
        names = [t.name for t in self.tools]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"tools: {repeated[0]!r} is listed twice")
        for tool in self.tools:
            if tool.scope is not None and tool.scope not in SCOPES:
                raise ValueError(f"tools.{tool.name}.scope: {tool.scope!r} is not a scope (scopes: {', '.join(SCOPES)})")
            if not TOOL_NAME.match(self.registered_name(tool.name)):
                raise ValueError(f"tools.{tool.name}: {self.registered_name(tool.name)!r} is not a tool name models "
                                 "accept (letters, digits, '_' and '-', at most 64 in all)")
        return self

    def registered_name(self, tool: str) -> str:
        return f"{self.name}{SEPARATOR}{tool}"


def parse_servers(value: str) -> list[ServerConfig]:
    """The servers of the setting: inline JSON, or the path of a .json or .toml file; a list of servers or an
    object with `servers`. Empty: none. InputError naming the entry and field ('mcp_servers[0].url: ...')."""
    text = (value or "").strip()
    if not text:
        return []
    data = _load(text)
    servers = data.get("servers") if isinstance(data, dict) else data
    if not isinstance(servers, list):
        raise InputError(f"{FIELD}: give a list of servers, or an object with a 'servers' list", field=FIELD)
    parsed: list[ServerConfig] = []
    for index, entry in enumerate(servers):
        try:
            parsed.append(ServerConfig.model_validate(entry))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            raise InputError(f"{FIELD}[{index}]{where}: {message}", field=FIELD) from None
    names = [server.name for server in parsed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"{FIELD}: two servers are named {repeated[0]!r}", field=FIELD)
    return parsed


def _load(text: str) -> Any:
    if text[0] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{FIELD}: not valid JSON ({exc.msg} at character {exc.pos})", field=FIELD) from None
    path = Path(text).expanduser()
    if path.suffix.lower() not in (".json", ".toml"):
        raise InputError(f"{FIELD}: {text!r} is neither JSON nor the path of a .json or .toml file", field=FIELD)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{FIELD}: cannot read {path} ({exc.strerror or exc})", field=FIELD) from None
    try:
        return tomllib.loads(raw) if path.suffix.lower() == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{FIELD}: {path} is not valid {path.suffix[1:].upper()} ({exc})", field=FIELD) from None
