"""The server process's one Platform: built by the ASGI lifespan, shared by the Streamlit pages and the API routes."""
from __future__ import annotations

import logging
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator

from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from backend.platform import Platform

logger = logging.getLogger(__name__)
# uvicorn's own logger, whose INFO lines ("Application startup complete.") the server's log shows
server_log = logging.getLogger("uvicorn.error")
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
    platform.retention.start()  # the server is the long-lived process: its timer applies retention hourly
    return platform


def _show_once(secrets: dict[str, str]) -> None:
    """The first start's generated passwords, on the terminal only (never a log: logs are kept and shipped)."""
    if not secrets:
        return
    width = max(len(name) for name in secrets)
    lines = [f"  {name:<{width}}  {password}" for name, password in secrets.items()]
    print("\nGroundwork's first start created these accounts. Their passwords are shown only now; sign in and "
          "change them (Admin page):\n" + "\n".join(lines) + "\n", file=sys.stdout, flush=True)


def _publish_for_cli(platform: Platform) -> int | None:
    """server.json for the command line on this machine (backend/gateway/discovery.py); the id of its key."""
    from backend.gateway import discovery
    from backend.models import GroundworkError

    try:
        return discovery.publish(platform.gateway, platform.settings.data_dir, discovery.listen_url())
    except (OSError, GroundworkError) as exc:  # the UI and API still work; the CLI then says the file is in use
        logger.warning("could not write %s for the command line: %s", discovery.FILE_NAME, exc)
        return None


def _withdraw_for_cli(platform: Platform, key_id: int | None) -> None:
    from backend.gateway import discovery
    from backend.models import GroundworkError

    try:
        discovery.withdraw(platform.gateway, platform.settings.data_dir, key_id)
    except (OSError, GroundworkError) as exc:  # the next start revokes a key left active
        logger.warning("could not withdraw %s: %s", discovery.FILE_NAME, exc)


def _warm_up(platform: Platform) -> None:
    """The embedding model, tokenizer, PII analyzer and loaders load now, on a thread: not on the first upload, and
    without holding up the start (/api/v1/health answers meanwhile)."""
    from backend.corpus.upload import warm_up

    warm_up(platform, on_done=lambda warm: server_log.info("%s", warm.summary()))


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
    """Open the store once for the whole process (DuckDB allows one writing process), create the first accounts
    on a fresh data dir, tell the local CLI where the server is (server.json), warm up what a first upload loads
    (in the background), and undo the first two on shutdown."""
    platform = await run_in_threadpool(_build)
    try:
        key_id = await run_in_threadpool(_publish_for_cli, platform)
    except BaseException:
        await run_in_threadpool(platform.close)
        raise
    _register(platform)
    _warm_up(platform)
    try:
        yield {"platform": platform}
    finally:
        _register(None)
        try:
            await run_in_threadpool(_withdraw_for_cli, platform, key_id)
        finally:
            await run_in_threadpool(platform.close)
