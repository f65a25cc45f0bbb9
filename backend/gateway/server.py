"""The server process's one Platform: built by the ASGI lifespan, shared by the Streamlit pages and the API routes."""
from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator

from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from backend.platform import Platform

_platform: Platform | None = None


def served_platform() -> Platform | None:
    """The platform the running server registered, or None outside a server process (CLI, tests, AppTest)."""
    return _platform


def _register(platform: Platform | None) -> None:
    global _platform
    _platform = platform


def _build() -> Platform:
    from backend.platform import Platform
    from backend.settings import Settings

    platform = Platform(Settings())
    try:
        _show_once(platform.gateway.bootstrap())
    except BaseException:
        platform.close()
        raise
    return platform


def _show_once(secrets: dict[str, str]) -> None:
    """The first start's generated passwords, on the terminal only (never a log: logs are kept and shipped)."""
    if not secrets:
        return
    width = max(len(name) for name in secrets)
    lines = [f"  {name:<{width}}  {password}" for name, password in secrets.items()]
    print("\nGroundwork's first start created these accounts. Their passwords are shown only now; sign in and "
          "change them (Admin page):\n" + "\n".join(lines) + "\n", file=sys.stdout, flush=True)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
    """Open the store once for the whole process (DuckDB allows one writing process), create the first accounts
    on a fresh data dir, and close the store on shutdown."""
    platform = await run_in_threadpool(_build)
    _register(platform)
    try:
        yield {"platform": platform}
    finally:
        _register(None)
        await run_in_threadpool(platform.close)
