"""AppTest of the Operations page's external tool servers: an operator sees a server that was down at start as
failed with its error and a Retry button; once it is up, Retry connects it and its tools join the live registry;
an analyst's page has no such section."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.live_server import free_port
from tests.pages.conftest import TIMEOUT, run, texts
from tests.pages.signin import ensure_user, signed_in
from tests.tools.mcp_process import mcp_server
from tests.tools.test_external_mcp import ENV, TOKEN, weather_server

ROOT = Path(__file__).resolve().parents[2]
LABEL = "External tool servers"


@pytest.fixture
def port(data_dir, monkeypatch) -> int:
    """The weather server configured (before the pages' platform starts) on a port nobody listens on yet."""
    from backend.settings import get_settings

    chosen = free_port()
    monkeypatch.setenv("GROUNDWORK_MCP_SERVERS", json.dumps([weather_server(f"http://127.0.0.1:{chosen}/mcp",
                                                                            timeout_s=3)]))
    monkeypatch.setenv(ENV, TOKEN)
    get_settings.cache_clear()
    return chosen


def _operations(role: str, user: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "pages" / "operations.py"), default_timeout=TIMEOUT)
    return run(signed_in(app, role, user=user, tenant="acme"))


def _table(app: AppTest):
    [table] = [frame.value for frame in app.dataframe if "Server" in frame.value.columns]
    return table


def test_an_operator_sees_a_failed_server_and_retries_it_once_it_is_up(port, platform, tmp_path):
    ensure_user(platform, "olga", "operator", "acme")
    app = _operations("operator", "olga")
    assert [e.label for e in app.expander if e.label.startswith(LABEL)] == [f"{LABEL}: 0 of 1 connected"]
    row = _table(app).iloc[0]
    assert (row["Server"], row["State"], row["Tools"]) == ("weather", "Failed", 0)
    assert "ConnectError" in row["Last error"] and row["Address"] == f"http://127.0.0.1:{port}/mcp"
    assert "GROUNDWORK_" not in texts(app)  # operators read words, not environment variable names
    retry = app.button(key="ops_tool_servers_weather")
    assert retry.label == "Retry weather"

    with mcp_server(port, TOKEN, tmp_path):
        retry.click()
        run(app)
        assert "weather is connected: 2 tools available." in [str(s.value) for s in app.success]
        row = _table(app).iloc[0]
        assert (row["State"], row["Tools"], row["Tool names"]) == ("Connected", 2, "weather__lookup, weather__book")
        assert not [b for b in app.button if b.key == "ops_tool_servers_weather"]  # connected: no retry offered
        assert "weather__lookup" in platform.tools.registry.names()


def test_an_analyst_sees_no_tool_servers(port, platform):
    ensure_user(platform, "ann", "analyst", "acme")
    app = _operations("analyst", "ann")
    assert not [e for e in app.expander if e.label.startswith(LABEL)]
