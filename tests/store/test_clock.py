"""Every table's time is naive UTC, whatever the server's time zone: DuckDB defaults, the gateway and the traces."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs in a child process, so its time zone (TZ) is set before Python or DuckDB read it.
_CHILD = """
import json, sys
from pathlib import Path
from backend.clock import utc_now
from backend.store.db import Store
store = Store(Path(sys.argv[1]) / "groundwork.duckdb")
with store.transaction("corpus") as cur:
    cur.execute("CREATE TABLE clock_probe (made_at TIMESTAMP DEFAULT current_timestamp, n INTEGER)")
    cur.execute("INSERT INTO clock_probe (n) VALUES (1)")
with store.cursor() as cur:  # a second cursor: a connection of its own, which must see the same zone
    stored = cur.execute("SELECT made_at FROM clock_probe").fetchone()[0]
print(json.dumps({"stored": stored.isoformat(), "utc_now": utc_now().isoformat()}))
"""


def test_store_defaults_are_utc_in_a_zone_far_from_utc(tmp_path):
    env = {**os.environ, "TZ": "Pacific/Kiritimati"}  # UTC+14: a local clock would be 14 hours ahead
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    times = json.loads(out)
    stored, now = datetime.fromisoformat(times["stored"]), datetime.fromisoformat(times["utc_now"])
    assert abs(now - stored) < timedelta(minutes=5), times
    assert abs(datetime.utcnow() - stored) < timedelta(minutes=5), times  # and it is UTC, not the child's zone
