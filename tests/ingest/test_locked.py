"""A CLI run while another process holds the DuckDB file: a one-line "in use" error, non-zero exit, file intact."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backend.models import StoreLockedError
from backend.platform import Platform
from backend.settings import Settings
from backend.store.db import Store
from tests.store.corpus_fixtures import assert_stores_agree, write_corpus

ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])  # read-write: holds the file lock, as the running app does
    con.execute("SELECT count(*) FROM documents").fetchall()
    print("holding", flush=True)
    sys.stdin.read()  # until the test closes our stdin
""")


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GROUNDWORK_DATA_DIR": str(settings.data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_commands_say_in_use_and_leave_the_file_intact(settings, tmp_path):
    corpus = write_corpus(tmp_path / "docs", 2)
    with Platform(settings) as platform:
        platform.corpus.ingest(corpus, "held")
        ids = assert_stores_agree(platform, "held")
    size_before = settings.db_path.stat().st_size
    more = write_corpus(tmp_path / "more", 1, start=50)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(settings.db_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        for args in (["ingest", str(more[0]), "--collection", "held"], ["search", "policy", "--collection", "held"],
                     ["stats", "--json"]):
            result = run_cli(settings, *args)
            assert result.returncode == 2, (args, result.stdout, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error:") and "in use" in lines[0], result.stderr
            assert str(settings.db_path) in lines[0] and "Traceback" not in result.stderr
            assert result.stdout == ""
        with pytest.raises(StoreLockedError, match="in use by another Groundwork process"):
            Store(settings.db_path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert settings.db_path.stat().st_size == size_before
    with Platform(Settings(data_dir=settings.data_dir)) as platform:
        assert assert_stores_agree(platform, "held") == ids
        assert platform.corpus.count_documents("held") == 2
        assert [r["status"] for r in platform.corpus.ingest_runs(5)] == ["finished"], "the refused run left no trace"
