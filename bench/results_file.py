"""Where a bench writes its figures: bench/results/<name>.json (the folder is not in git, so made on first use)."""
from __future__ import annotations

import json
from pathlib import Path


def save(path: Path, figures: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
