"""Small generated corpora and the check that DuckDB, FAISS and BM25 hold the same chunk ids."""
from __future__ import annotations

import random
from pathlib import Path

TOPICS = [
    ("Refund policy", "refund chargeback card purchase merchant dispute reversal"),
    ("Data retention", "retention archive deletion records schedule backup erasure"),
    ("Password standard", "password passphrase rotation lockout authenticator factor"),
    ("Travel expenses", "travel hotel flight mileage receipt allowance reimbursement"),
    ("Incident response", "incident breach escalation severity containment forensic"),
    ("Vendor management", "vendor supplier contract assessment onboarding termination"),
    ("Remote work", "remote home office laptop vpn equipment ergonomics"),
    ("Complaints", "complaint ombudsman acknowledgement resolution deadline redress"),
]
FILLER = (
    "the a policy staff customer team must should within days weeks approval manager review annual "
    "quarterly report request record system access account process exception owner update"
).split()


def document_text(i: int, words: int = 60) -> tuple[str, str]:
    """(title, markdown) of a distinct document: its own topic words in its own random order (one section,
    so a short one is one chunk: tests stay fast because embedding is the cost)."""
    rng = random.Random(i)
    title, topic = TOPICS[i % len(TOPICS)]
    title = f"{title} {i:03d}"
    vocab = topic.split() + FILLER + [f"term{i}x{j}" for j in range(12)]
    body = " ".join(rng.choice(vocab) for _ in range(words))
    return title, f"# {title}\n\n{body.capitalize()}.\n"


def write_corpus(folder: Path, count: int, words: int = 60, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        _, text = document_text(i, words)
        path = folder / f"doc-{i:03d}.md"
        path.write_text(text)
        paths.append(path)
    return paths


def store_ids(platform, collection: str) -> tuple[set[int], set[int], set[int]]:
    """(DuckDB chunk ids, FAISS ids, BM25 ids) of a collection."""
    row = platform.store.query("SELECT id FROM collections WHERE name = ?", [collection])
    db = {r[0] for r in platform.store.query("SELECT id FROM chunks WHERE collection_id = ?", [row[0][0]])}
    dense, lexical = platform.corpus.collection_index(collection).ids()
    return db, {int(i) for i in dense}, {int(i) for i in lexical}


def assert_stores_agree(platform, collection: str) -> set[int]:
    db, dense, lexical = store_ids(platform, collection)
    assert db == dense == lexical, (
        f"DuckDB {len(db)}, FAISS {len(dense)}, BM25 {len(lexical)}; "
        f"only DuckDB {sorted(db - dense)[:5]}, only FAISS {sorted(dense - db)[:5]}, only BM25 {sorted(lexical - db)[:5]}"
    )
    return db
