"""BEIR import: strict validation naming file and line, ranx metrics, and `eval beir` end to end on a tiny dataset."""
import json

import pytest

from backend.evaluation.beir import compute_metrics, document_ranking, load_beir
from backend.models import InputError

CORPUS = [
    {"_id": "d1", "title": "Refund policy", "text": "Refunds are issued within 14 days of a written request."},
    {"_id": "d2", "title": "Password rules", "text": "Passwords must be rotated every 90 days and never shared."},
    {"_id": "d3", "title": "Data retention", "text": "Customer records are retained for seven years, then deleted."},
    {"_id": "d4", "title": "Laptop security", "text": "Laptops must use full-disk encryption at all times."},
    {"_id": "d5", "title": "Holidays", "text": "Employees get 25 days of paid holiday per year."},
]
QUERIES = [
    {"_id": "q1", "text": "how long are customer records kept"},
    {"_id": "q2", "text": "when do I get my refund"},
    {"_id": "q3", "text": "disk encryption on laptops"},
    {"_id": "q4", "text": "an unjudged query"},
]
QRELS = "query-id\tcorpus-id\tscore\r\nq1\td3\t1\r\nq2\td1\t1\r\nq3\td4\t1\r\n"


def write_dataset(root, corpus=CORPUS, queries=QUERIES, qrels=QRELS, split="test"):
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(row) + "\n" for row in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(row) + "\n" for row in queries))
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / f"{split}.tsv").write_bytes(qrels.encode())
    return root


def test_load_valid_dataset_with_crlf_qrels(tmp_path):
    dataset = load_beir(write_dataset(tmp_path / "tiny"))
    assert dataset.name == "tiny" and len(dataset.corpus) == 5
    assert dataset.queries == {"q1": QUERIES[0]["text"], "q2": QUERIES[1]["text"], "q3": QUERIES[2]["text"]}
    assert dataset.qrels == {"q1": {"d3": 1}, "q2": {"d1": 1}, "q3": {"d4": 1}}
    records = dataset.records()
    assert records[0].source == "d1" and records[0].title == "Refund policy" and "14 days" in records[0].text


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda root: (root / "corpus.jsonl").unlink(), r"corpus\.jsonl: missing"),
        (lambda root: (root / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": \n'),
         r"corpus\.jsonl:2: malformed JSON"),
        (lambda root: (root / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{"title": "t", "text": "x"}\n'),
         r"corpus\.jsonl:2: missing `_id`"),
        (lambda root: (root / "queries.jsonl").write_text('{"_id": "q1"}\n'), r"queries\.jsonl:1: missing `text`"),
        (lambda root: (root / "corpus.jsonl").write_text('{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n'),
         r"corpus\.jsonl:2: duplicate _id 'd1'"),
        (lambda root: (root / "qrels" / "test.tsv").write_text("q1\td3\t1\n"), r"test\.tsv:1: header must be"),
        (lambda root: (root / "queries.jsonl").write_bytes(b'{"_id": "q1", "text": "caf\xe9"}\n'), r"queries\.jsonl: not UTF-8"),
        (lambda root: (root / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\n\xff\n"), r"test\.tsv: not UTF-8"),
        (lambda root: (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td3\n"),
         r"test\.tsv:2: expected 3 tab-separated columns"),
        (lambda root: (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td3\thigh\n"),
         r"test\.tsv:2: score 'high' is not an integer"),
        (lambda root: (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\r\nq1\td3\t1\r\nq1\td99\t1\r\n"),
         r"test\.tsv:3: corpus-id 'd99' is not in corpus\.jsonl"),
        (lambda root: (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td3\t1\n"),
         r"test\.tsv:2: query-id 'q9' is not in queries\.jsonl"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, change, message):
    root = write_dataset(tmp_path / "bad")
    change(root)
    with pytest.raises(InputError, match=message):
        load_beir(root)


def test_missing_split_and_directory(tmp_path):
    root = write_dataset(tmp_path / "tiny")
    with pytest.raises(InputError, match=r"qrels/dev\.tsv: missing"):
        load_beir(root, split="dev")
    with pytest.raises(InputError, match="not a directory"):
        load_beir(tmp_path / "nowhere")


def test_metrics_against_hand_values():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}}
    run = {
        "q1": document_ranking(["x", "a", "a", "y"]),  # relevant at rank 2 (the repeat keeps rank 2)
        "q2": document_ranking(["b"]),  # one of two relevant, at rank 1
    }
    assert list(run["q1"]) == ["x", "a", "y"]
    metrics = compute_metrics(qrels, run)
    ndcg_q1 = 1 / 1.5849625007211562  # 1/log2(3)
    ndcg_q2 = 1 / (1 + 1 / 1.5849625007211562)  # DCG 1 over ideal 1 + 1/log2(3)
    assert metrics["ndcg@10"] == pytest.approx((ndcg_q1 + ndcg_q2) / 2)
    assert metrics["recall@10"] == pytest.approx((1 + 0.5) / 2)
    assert metrics["mrr@10"] == pytest.approx((0.5 + 1) / 2)
    # a query the run never answered counts as zero
    assert compute_metrics(qrels, {"q2": run["q2"]})["recall@100"] == pytest.approx(0.25)


def test_eval_beir_command_end_to_end(tmp_path, data_dir, capsys, monkeypatch):
    from backend.cli import main
    from backend.settings import get_settings

    root = write_dataset(tmp_path / "tiny")
    assert main(["eval", "beir", str(root), "--mode", "hybrid", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert set(first) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "latency_ms_p50", "latency_ms_p95", "queries"}
    assert first["queries"] == 3 and first["collection"] == "beir-tiny" and first["documents"] == 5
    assert first["recall@10"] == 1.0 and first["mrr@10"] >= 0.5
    # second run reuses the collection (nothing re-ingested) and the other modes work on it
    assert main(["eval", "beir", str(root), "--mode", "bm25"]) == 0
    out = capsys.readouterr().out
    assert "indexed in" not in out and "ndcg@10" in out
    assert main(["eval", "beir", str(root), "--mode", "dense", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recall@10"] == 1.0
    # other chunk settings: the built collection is refused, not mixed
    monkeypatch.setenv("GROUNDWORK_CHUNK_TOKENS", "128")
    get_settings.cache_clear()
    assert main(["eval", "beir", str(root), "--mode", "bm25"]) == 2
    assert "re-index the collection or restore the settings" in capsys.readouterr().err


def test_eval_beir_bad_input_exits_2(tmp_path, data_dir, capsys):
    from backend.cli import main

    root = write_dataset(tmp_path / "broken", qrels="query-id\tcorpus-id\tscore\nq1\tnope\t1\n")
    assert main(["eval", "beir", str(root)]) == 2
    assert "test.tsv:2: corpus-id 'nope'" in capsys.readouterr().err
