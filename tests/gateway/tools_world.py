"""The API tests' world (tests/gateway/api_world.py) with keys for the tool doors: ones that hold the tickets scope."""
from __future__ import annotations

from pathlib import Path

from backend.platform import Platform
from backend.settings import Settings
from tests.gateway.api_world import World, build_world, copied_world

# alice (acme analyst) and olga (acme operator) may open tickets with these; their other keys may not.
TICKET_KEYS = {"alice_tickets": ["read", "ask", "tickets"], "olga_tickets": ["read", "tickets"]}
READ_TOOLS = {"search_documents", "read_document_section", "query_table", "calculate"}


def build_tools_world(data_dir: Path) -> World:
    return copied_world(_build_tools_world, data_dir)


def _build_tools_world(data_dir: Path) -> World:
    world = build_world(data_dir)
    with Platform(Settings(data_dir=data_dir)) as platform:
        for key_name, scopes in TICKET_KEYS.items():
            world.keys[key_name], _ = platform.gateway.create_key(key_name.split("_")[0], scopes)
    return world
