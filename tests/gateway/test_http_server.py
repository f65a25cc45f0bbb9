"""The server process's wiring: the lifespan opens the one Platform, the pages get that one, shutdown closes it."""
from __future__ import annotations

import asyncio

from backend.gateway import server


def test_the_lifespan_registers_the_one_platform_and_closes_it(data_dir, capsys):
    async def run():
        async with server.lifespan(None) as state:
            platform = state["platform"]
            assert server.served_platform() is platform
            assert platform.gateway.user("admin")["role"] == "admin"  # the first start made the admin
        return platform

    platform = asyncio.run(run())
    assert server.served_platform() is None
    assert platform._closed
    shown = capsys.readouterr().out
    assert "shown only now" in shown and "admin" in shown

    asyncio.run(run())  # a second start creates nothing and shows nothing
    assert "shown only now" not in capsys.readouterr().out


def test_pages_use_the_servers_platform_when_there_is_one(data_dir):
    import components.platform as pages_platform

    served = object()
    server._register(served)  # type: ignore[arg-type]
    pages_platform.get_platform.clear()
    try:
        assert pages_platform.get_platform() is served
    finally:
        server._register(None)
        pages_platform.get_platform.clear()
