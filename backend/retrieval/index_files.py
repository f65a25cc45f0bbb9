"""Index directories written atomically: hard-linked reuse, fsync, and a swap that survives a crash midway."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hard links
        shutil.copy2(source, target)


def fsync_tree(directory: Path) -> None:
    for file in directory.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())


def swap_directory(new: Path, path: Path) -> None:
    """Replace directory `path` by `new`; a crash in between leaves `.<name>.old` for load() to restore."""
    old = path.with_name(f".{path.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        os.rename(path, old)
    os.rename(new, path)
    shutil.rmtree(old, ignore_errors=True)


def recover_swap(path: Path) -> None:
    old = path.with_name(f".{path.name}.old")
    if not path.exists() and old.exists():
        os.rename(old, path)
