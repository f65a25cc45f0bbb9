"""The command line over the same backend: `python -m backend <command>`; each command lives in backend/commands/."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from backend import commands
from backend.models import GroundworkError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description="Groundwork RAG platform")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each module in backend/commands/ exposes register(subparsers) and sets a `handler` default.
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"backend.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except GroundworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
