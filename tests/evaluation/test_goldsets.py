"""Gold files: CSV/JSONL parsing, errors that name the line and field, corpus checks, DuckDB snapshots, traffic."""
from __future__ import annotations

import json

import pytest

from backend.evaluation import goldsets
from backend.evaluation.goldsets import GoldItem, GoldSet
from backend.models import InputError, NotFound
from backend.store.db import Store


def test_jsonl_demo_format(tmp_path):
    path = tmp_path / "gold.jsonl"
    rows = [
        {"id": "q1", "question": "What is the fee?", "answer": "5 EUR.", "document": "fees.md", "evidence": "Fee is 5 EUR.", "answerable": True, "tags": ["fees"]},
        {"id": "q2", "question": "Who is the CEO?", "answer": "", "document": None, "evidence": "", "answerable": False, "tags": []},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    gold = goldsets.read_gold_file(path, collection="demo")
    assert gold.name == "gold" and len(gold.items) == 2
    first, second = gold.items
    assert first.relevant == {"fees.md": 1} and first.evidence == ["Fee is 5 EUR."] and first.reference_answer == "5 EUR."
    assert second.answerable is False and second.relevant == {}


def test_jsonl_keeps_line_separator_inside_a_question_and_skips_a_bom(tmp_path):
    # splitlines() used to break the record at U+2028; a leading BOM (Windows editors) used to be "not valid JSON".
    path = tmp_path / "gold.jsonl"
    path.write_text("\ufeff" + json.dumps({"id": "q1", "question": "Fee\u2028now?", "answer": "5 EUR."}, ensure_ascii=False) + "\n")
    items = goldsets.read_gold_file(path).items
    assert [(i.id, i.question, i.line) for i in items] == [("q1", "Fee\u2028now?", 1)]


def test_csv_with_multiple_documents(tmp_path):
    path = tmp_path / "upload.csv"
    path.write_text("question,reference_answer,relevant_document_ids\nWhat?,It is X.,a.md;b.md\n\nWhy?,,c.md\n")
    items = goldsets.read_gold_file(path).items
    assert [i.relevant for i in items] == [{"a.md": 1, "b.md": 1}, {"c.md": 1}]
    assert [i.line for i in items] == [2, 4] and items[1].id == "q4"


@pytest.mark.parametrize("name, text, message", [
    ("g.csv", "query_text,answer\nWhat?,X\n", "g.csv: missing column 'question'"),
    ("g.csv", "question,notes\nWhat?,X\n", "missing column 'reference_answer' or 'relevant_document_ids'"),
    ("g.csv", "question,reference_answer\n", "g.csv: no questions"),
    ("g.csv", "question,reference_answer\nWhat?,X\n,Y\n", "g.csv line 3: field 'question' is missing or empty"),
    ("g.jsonl", "", "g.jsonl: no questions"),
    ("g.jsonl", '{"question": "a", "answer": "b"}\n{"question": "c"\n', "g.jsonl line 2: not valid JSON"),
    ("g.jsonl", '{"question": "a", "answer": "b"}\n["x"]\n', "g.jsonl line 2: expected a JSON object"),
    ("g.jsonl", '{"question": "a"}\n', "g.jsonl line 1: needs 'reference_answer' or 'relevant_document_ids'"),
    ("g.jsonl", '{"question": "a", "answer": "b", "answerable": "maybe"}\n', "line 1: field 'answerable' must be true or false"),
    ("g.jsonl", '{"id": 1, "question": "a", "answer": "b"}\n{"id": 1, "question": "c", "answer": "d"}\n', "g.jsonl line 2: id '1' repeats line 1"),
    ("g.jsonl", '{"question": "a", "relevant": {"x.md": "high"}}\n', "line 1: field 'relevant' grade"),
    ("g.txt", "question\n", "g.txt: gold files must be .csv or .jsonl"),
])
def test_malformed_files_name_line_and_field(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as info:
        goldsets.read_gold_file(path)
    assert message in str(info.value)


def test_documents_must_exist_in_the_collection():
    gold = GoldSet("g", "upload", "demo", [GoldItem("q1", "a?", relevant={"fees.md": 1}, line=1),
                                           GoldItem("q2", "b?", relevant={"missing.md": 1}, line=2)], origin="/x/g.jsonl")
    keys = goldsets.document_keys({1: "/data/demo/fees.md", 2: "beir-7"})
    assert keys["fees.md"] == 1 and keys["/data/demo/fees.md"] == 1 and keys["beir-7"] == 2
    with pytest.raises(InputError, match=r"g.jsonl line 2: document 'missing.md' is not in collection 'demo'"):
        goldsets.check_against_corpus(gold, keys)
    with pytest.raises(InputError, match="has no documents"):
        goldsets.check_against_corpus(gold, {})
    assert goldsets.resolve_relevant(gold.items[0], keys) == {1: 1}


def test_snapshot_round_trip_and_replace(data_dir):
    store = Store(data_dir / "t.duckdb")
    gold = GoldSet("mine", "upload", "demo", [GoldItem("q1", "a?", "A.", {"x.md": 2}, ["quote"], True, ["t"], 1)], "x.jsonl")
    goldsets.save_goldset(store, gold, writable=None)
    loaded = goldsets.load_goldset(store, "mine", scope=None)
    assert loaded.items[0].relevant == {"x.md": 2} and loaded.items[0].evidence == ["quote"]
    assert loaded.content_hash == gold.content_hash
    gold.items.append(GoldItem("q2", "b?", "B."))
    goldsets.save_goldset(store, gold, writable=None)
    assert [g["n_items"] for g in goldsets.list_goldsets(store, scope=None)] == [2]
    with pytest.raises(InputError, match="gold set 'nope' not found"):
        goldsets.load_goldset(store, "nope", scope=None)


def test_snapshots_are_scoped_by_collection_and_names_are_not_taken_over(data_dir):
    store = Store(data_dir / "t.duckdb")
    ours = GoldSet("shared-name", "upload", "ours", [GoldItem("q1", "a?", "A.", line=1)], "ours.jsonl")
    goldsets.save_goldset(store, ours, writable=["ours"])
    assert [g["name"] for g in goldsets.list_goldsets(store, scope=["ours"])] == ["shared-name"]
    assert goldsets.list_goldsets(store, scope=["theirs"]) == [] and goldsets.list_goldsets(store, scope=[]) == []
    with pytest.raises(NotFound, match="gold set 'shared-name' not found .stored: none stored yet"):
        goldsets.load_goldset(store, "shared-name", scope=["theirs"])  # the same words as for a name never stored
    theirs = GoldSet("shared-name", "upload", "theirs", [GoldItem("x", "b?", "B.", line=1)], "theirs.jsonl")
    with pytest.raises(InputError, match="gold set name 'shared-name' is already taken") as info:
        goldsets.save_goldset(store, theirs, writable=["theirs"])
    assert info.value.field == "name"
    kept = goldsets.load_goldset(store, "shared-name", scope=["ours"])
    assert kept.collection == "ours" and [i.id for i in kept.items] == ["q1"]  # nothing of ours replaced
    with pytest.raises(InputError, match="gold set name"):
        goldsets.check_name("bad name!")


def test_traffic_sample_uses_liked_answers_as_reference(data_dir):
    store = Store(data_dir / "t.duckdb")
    rows = [("t1", "How much is a transfer?", "It costs 5 EUR.", 1), ("t2", "how much is a transfer?", "dup", None),
            ("t3", "Refund time?", "Ten days.", 0), ("t4", "Other?", "Dunno.", None)]
    for trace_id, question, answer, score in rows:
        store.execute(
            "INSERT INTO traces (trace_id, root_span_id, name, start_time, duration_ms, status, collection, question, answer) "
            "VALUES (?, 'r', 'rag.ask', current_timestamp, 10, 'ok', 'demo', ?, ?)", [trace_id, question, answer])
        if score is not None:
            store.execute("INSERT INTO feedback (message_id, conversation_id, collection, trace_id, score) VALUES (1, 'c', 'demo', ?, ?)",
                          [trace_id, score])
    gold = goldsets.traffic_goldset(store, "demo", "traffic-1", limit=10)
    by_question = {i.question.lower(): i for i in gold.items}
    assert len(gold.items) == 3  # the repeated question counted once
    assert by_question["how much is a transfer?"].reference_answer == "It costs 5 EUR."
    assert by_question["refund time?"].reference_answer == "" and "feedback:down" in by_question["refund time?"].tags
    assert len(goldsets.traffic_goldset(store, "demo", "t", only_rated=True).items) == 2
    with pytest.raises(InputError, match="no traffic for collection 'other'"):
        goldsets.traffic_goldset(store, "other", "t")


def test_beir_import_uses_the_shared_loader(tmp_path):
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text('{"_id": "d1", "title": "A", "text": "alpha"}\n{"_id": "d2", "title": "B", "text": "beta"}\n')
    (root / "queries.jsonl").write_text('{"_id": "1", "text": "what is alpha?"}\n{"_id": "2", "text": "what is beta?"}\n')
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\r\n1\td1\t1\r\n2\td2\t0\r\n")
    gold = goldsets.beir_goldset(root, "test", "beir-tiny")
    assert gold.name == "tiny-test" and gold.kind == "beir" and gold.collection == "beir-tiny"
    assert [(i.id, i.question, i.relevant) for i in gold.items] == [("1", "what is alpha?", {"d1": 1})]  # grade 0 is not relevant
    with pytest.raises(InputError, match="qrels"):
        goldsets.beir_goldset(root, "dev", "beir-tiny")


def test_synthetic_sets_need_an_llm_and_say_so(settings):
    from types import SimpleNamespace

    from backend.evaluation.synthetic import synthetic_goldset, synthetic_unavailable_reason

    reason = synthetic_unavailable_reason(settings)
    assert reason.startswith("unavailable") and "GROUNDWORK_EVAL_JUDGE_MODEL" in reason
    with pytest.raises(InputError, match="synthetic gold set unavailable"):
        synthetic_goldset(SimpleNamespace(settings=settings), "demo", "syn")
    assert synthetic_unavailable_reason(settings.model_copy(update={"eval_judge_model": "qwen2.5"})) == ""
