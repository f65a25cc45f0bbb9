"""GET /api/v1/tools/servers and POST /api/v1/tools/servers/{name}/retry against the real server: an external MCP
server down at start is listed as failed with its error; once it is up a retry connects it and its tools are
offered by GET /api/v1/tools; analysts get 403, an unknown server 404, each a JSON error naming the field."""
from __future__ import annotations

import json

import pytest

from backend.gateway import api_models_tools as mt
from tests.gateway.api_client import api_error, live_api
from tests.gateway.tools_world import build_tools_world
from tests.live_server import free_port
from tests.tools.mcp_process import mcp_server
from tests.tools.test_external_mcp import ENV, TOKEN, weather_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def port():
    return free_port()


@pytest.fixture(scope="module")
def api(tmp_path_factory, port):
    world = build_tools_world(tmp_path_factory.mktemp("tool-servers") / "data")
    servers = json.dumps([weather_server(f"http://127.0.0.1:{port}/mcp", timeout_s=3)])
    with live_api(world, env={"GROUNDWORK_MCP_SERVERS": servers, ENV: TOKEN}) as served:
        yield served


def test_a_failed_server_is_listed_and_a_retry_once_it_is_up_registers_its_tools(api, port, tmp_path):
    listing = mt.ToolServerList.model_validate(api.ok("GET", "/api/v1/tools/servers", "olga"))
    [weather] = listing.servers
    assert (weather.name, weather.state, weather.tool_count) == ("weather", "failed", 0)
    assert "ConnectError" in weather.error and weather.url == f"http://127.0.0.1:{port}/mcp"
    assert TOKEN not in json.dumps(api.ok("GET", "/api/v1/tools/servers", "ada"))
    with mcp_server(port, TOKEN, tmp_path):
        retried = mt.ToolServer.model_validate(api.ok("POST", "/api/v1/tools/servers/weather/retry", "olga"))
        assert (retried.state, retried.tools, retried.error) == ("connected", ["weather__lookup", "weather__book"], "")
        offered = {tool["name"] for tool in api.ok("GET", "/api/v1/tools", "olga")["tools"]}
        assert "weather__lookup" in offered  # the live registry, without a restart
        [now] = mt.ToolServerList.model_validate(api.ok("GET", "/api/v1/tools/servers", "ada")).servers
        assert now.state == "connected" and now.checked_at >= weather.checked_at


def test_analysts_get_403_and_an_unknown_server_404(api):
    assert "may not see or retry" in api_error(api("GET", "/api/v1/tools/servers", "alice"), 403)["message"]
    assert api_error(api("POST", "/api/v1/tools/servers/weather/retry", "alice"), 403)
    error = api_error(api("POST", "/api/v1/tools/servers/crm/retry", "olga"), 404)
    assert error["field"] == "name" and "'crm'" in error["message"]
    assert api_error(api("GET", "/api/v1/tools/servers"), 401)["field"] == "authorization"
