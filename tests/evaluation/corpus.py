"""A three-document corpus and a gold file for evaluation tests (small, so a grid runs in seconds)."""
from __future__ import annotations

import json
from pathlib import Path

DOCUMENTS = {
    "fees.md": "# Fees and charges\n\nAn international transfer costs £3.50 per transfer, whatever the amount. "
               "A replacement debit card costs £5.00 and arrives within five working days.\n\n"
               "## Overdrafts\n\nArranged overdraft interest is 22.9% EAR (variable).\n",
    "refunds.md": "# Refunds and chargebacks\n\nRefunds of card payments reach the account within ten working days. "
                  "A chargeback must be raised within 120 days of the transaction date.\n",
    "security.md": "# Password standard\n\nPasswords must be at least fourteen characters long. Multi-factor "
                   "authentication is required for every remote login to company systems.\n",
}
GOLD = [
    {"id": "q1", "question": "How much does an international transfer cost?", "answer": "An international transfer costs £3.50 per transfer.",
     "document": "fees.md", "evidence": "An international transfer costs £3.50 per transfer", "answerable": True, "tags": ["fees"]},
    {"id": "q2", "question": "How long do card refunds take to arrive?", "answer": "Card refunds reach the account within ten working days.",
     "document": "refunds.md", "evidence": "Refunds of card payments reach the account within ten working days.", "answerable": True, "tags": []},
    {"id": "q3", "question": "How long must passwords be?", "answer": "Passwords must be at least fourteen characters long.",
     "document": "security.md", "evidence": "Passwords must be at least fourteen characters long.", "answerable": True, "tags": []},
    {"id": "q4", "question": "Who founded the bank in 1850?", "answer": "", "document": None, "evidence": "",
     "answerable": False, "tags": ["unanswerable"]},
]


def write_corpus(root: Path) -> tuple[Path, Path]:
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name, text in DOCUMENTS.items():
        (docs / name).write_text(text)
    gold = root / "small-gold.jsonl"
    gold.write_text("\n".join(json.dumps(row) for row in GOLD) + "\n")
    return docs, gold


def ingest(platform, docs: Path, collection: str = "demo") -> None:
    report = platform.corpus.ingest([docs], collection)
    assert not report.failed, report.failed
