"""The command line over the same backend: `python -m backend <command>`; each command lives in backend/commands/."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from backend import commands
from backend.client import Server, choose_server
from backend.gateway.discovery import pid_alive, read_discovery
from backend.models import GroundworkError, StoreLockedError
from backend.settings import get_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backend", description="Groundwork RAG platform",
        epilog="While the server runs (make app), ask, search, ingest, stats, traces list and eval list go through its API: "
               "found by the data dir's server.json, or given by --server / GROUNDWORK_SERVER.")
    parser.add_argument("--server", metavar="URL", default=None,
                        help="run the command through the Groundwork server at URL, with the API key in "
                             "GROUNDWORK_API_KEY (default: GROUNDWORK_SERVER, else the data dir's running server)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each module in backend/commands/ exposes register(subparsers) and sets a `handler` default; one that can run
    # through the server sets `remote` (handler(args, client)) too, one that never opens the store `store=False`,
    # and one that must open the store itself says why in `local_only`.
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"backend.commands.{info.name}")
        module.register(sub)
    return parser


def _command_name(args: argparse.Namespace) -> str:
    actions = [value for key, value in vars(args).items() if key.endswith("_command") and isinstance(value, str)]
    return " ".join([args.command, *actions])


def _local_only(args: argparse.Namespace, server: Server) -> GroundworkError:
    why = getattr(args, "local_only", None) or "it has no HTTP API equivalent"
    name = _command_name(args)
    if server.discovered:
        return GroundworkError(
            f"`{name}` cannot run through the running server at {server.url}: {why}. The server holds this data dir's "
            "DuckDB file: stop it (Ctrl+C where `make app` runs), run this, then start it again")
    return GroundworkError(f"`{name}` cannot run through a server ({why}); drop --server and GROUNDWORK_SERVER "
                           "to run it on this machine's data dir")


def _dispatch(args: argparse.Namespace) -> int:
    if not getattr(args, "store", True):  # e.g. decide: prices and formulas, no DuckDB file
        return int(args.handler(args) or 0)
    data_dir = get_settings().data_dir
    server = choose_server(args.server, data_dir)
    if server is None:
        try:
            return int(args.handler(args) or 0)
        except StoreLockedError as exc:
            found = read_discovery(data_dir)
            if found is not None and pid_alive(found.pid):
                raise StoreLockedError(f"{exc}; the server at {found.url} (process {found.pid}) does not answer "
                                       "its health check yet: wait until it has started, then run this again") from None
            raise
    remote = getattr(args, "remote", None)
    if remote is None:
        raise _local_only(args, server)
    print(f"using {'the running server' if server.discovered else 'the server'} at {server.url}", file=sys.stderr)
    with server.client() as client:
        return int(remote(args, client) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except GroundworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
