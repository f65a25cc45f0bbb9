"""Changing the pricing catalog on a caller's behalf: allowed roles only, and what changed, row by row, audited."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from backend.context import RequestContext
from backend.economics.catalog import SECTIONS, Catalog, catalog_to_data, load_catalog, save_catalog
from backend.gateway.identity import Forbidden
from backend.models import InputError

EDITORS = ("admin", "stakeholder")  # the roles of the Cost explorer, where the catalog is edited


def catalog_changes(before: Catalog | None, after: Catalog) -> dict[str, dict]:
    """Per section: the rows added and removed (whole), and per changed row each field as [before, after].
    Sections without a change are left out; `before` None (no readable file) counts every row as added."""
    old = catalog_to_data(before) if before is not None else {section: [] for section in SECTIONS}
    new = catalog_to_data(after)
    changes: dict[str, dict] = {}
    for section in SECTIONS:
        was = {row["name"]: row for row in old[section]}
        now = {row["name"]: row for row in new[section]}
        changed = {}
        for name in sorted(was.keys() & now.keys()):
            fields = {f: [was[name].get(f), now[name].get(f)] for f in sorted(was[name].keys() | now[name].keys())
                      if was[name].get(f) != now[name].get(f)}
            if fields:
                changed[name] = fields
        entry = {"added": [now[name] for name in sorted(now.keys() - was.keys())],
                 "removed": [was[name] for name in sorted(was.keys() - now.keys())], "changed": changed}
        entry = {kind: value for kind, value in entry.items() if value}
        if entry:
            changes[section] = entry
    return changes


def _previous(path: Path) -> Catalog | None:
    try:
        return load_catalog(path)
    except InputError:  # missing or broken: the save replaces it whole
        return None


def _put_back(path: Path, text: bytes | None) -> None:
    """The file as it was (or gone, if it was not there), atomically."""
    if text is None:
        path.unlink(missing_ok=True)
        return
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(text)
    os.replace(tmp_name, path)


def save_catalog_as(catalog: Catalog, path: Path | str, gateway, ctx: RequestContext) -> Path:
    """save_catalog (validated, atomic, the old file kept as .bak) by `ctx.user`, with one `catalog.save` audit row
    of what changed. If the audit row cannot be written, both files are put back: no unrecorded change stays."""
    if ctx.role not in EDITORS:
        raise Forbidden(f"role {ctx.role!r} may not change the pricing catalog (allowed: {', '.join(EDITORS)})")
    path = Path(path)
    backup = path.with_name(path.name + ".bak")
    texts = {p: (p.read_bytes() if p.exists() else None) for p in (path, backup)}
    changes = catalog_changes(_previous(path), catalog)
    saved_backup = save_catalog(catalog, path)
    try:
        gateway.audit(ctx.user, "catalog.save", str(path),
                      {"tenant": ctx.tenant, "changes": changes, "backup": saved_backup.name})
    except BaseException:
        for file, text in texts.items():
            _put_back(file, text)
        raise
    return saved_backup
