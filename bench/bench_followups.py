"""Follow-up decision and rewrite quality on the labelled pairs: precision, recall, must_contain hits, misclassified rows.

    python -m bench.bench_followups [--file data/gold/follow_ups.jsonl] [--json]     (also part of `python -m bench`)

A follow-up is the positive class: precision is the share of questions rewritten that needed the previous turn,
recall the share of those that needed it that were rewritten. The must_contain hit rate is over every labelled
follow-up, with the question as typed standing in when it was not rewritten. Pure rules, no model: runs in seconds.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.results_file import save

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FOLLOW_UPS = ROOT / "data" / "gold" / "follow_ups.jsonl"
RESULTS = ROOT / "bench" / "results" / "followups.json"


def _read_jsonl(path: Path) -> list[dict]:
    from backend.jsonl import json_objects  # after the sys.path insert above

    return [row for _, row in json_objects(path.read_text(encoding="utf-8"), lambda n: f"{path} line {n}")]


def _carries(text: str, phrase: str) -> bool:
    """Whether `text` carries every content word of `phrase` (by stem, so "transfers" carries "transfer")."""
    from backend.text.sentences import content_stems, words

    wanted = content_stems(phrase)
    if not wanted:  # only stop words ("how often", "three"): the words themselves
        return f" {' '.join(words(phrase))} " in f" {' '.join(words(text))} "
    return wanted <= content_stems(text)


def evaluate(rows: list[dict]) -> dict:
    from backend.chat.follow_up import follow_up_reason
    from backend.chat.rewrite import rewrite_follow_up

    tp = fp = fn = tn = 0
    hits = phrases = phrase_hits = 0
    misclassified, missing_words = [], []
    for row in rows:
        reason = follow_up_reason(row["question"], row["previous"])
        predicted, labelled = reason is not None, bool(row["follow_up"])
        tp += predicted and labelled
        fp += predicted and not labelled
        fn += labelled and not predicted
        tn += not predicted and not labelled
        rewrite = rewrite_follow_up(row["question"], row["previous"]) or row["question"]
        if predicted != labelled:
            misclassified.append({"id": row["id"], "previous": row["previous"], "question": row["question"],
                                  "labelled": labelled, "reason": reason, "searched_as": rewrite})
        if labelled:
            wanted = row.get("must_contain") or [row["standalone"]]
            carried = [phrase for phrase in wanted if _carries(rewrite, phrase)]
            phrases += len(wanted)
            phrase_hits += len(carried)
            hits += len(carried) == len(wanted)
            if len(carried) < len(wanted):
                missing_words.append({"id": row["id"], "searched_as": rewrite,
                                      "missing": [p for p in wanted if p not in carried]})
    positives = tp + fn
    return {
        "pairs": len(rows), "follow_ups": positives, "self_contained": fp + tn,
        "true_positives": tp, "false_positives": fp, "false_negatives": fn, "true_negatives": tn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / positives, 3) if positives else None,
        "accuracy": round((tp + tn) / len(rows), 3) if rows else None,
        "must_contain_hit_rate": round(hits / positives, 3) if positives else None,
        "must_contain_phrase_rate": round(phrase_hits / phrases, 3) if phrases else None,
        "misclassified": misclassified,
        "rewrites_missing_words": missing_words,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_followups", description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=FOLLOW_UPS, help="labelled pairs (default data/gold/follow_ups.jsonl)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    figures = {"file": str(args.file.resolve().relative_to(ROOT)) if args.file.resolve().is_relative_to(ROOT)
               else str(args.file), **evaluate(_read_jsonl(args.file))}
    save(RESULTS, figures)
    if args.json:
        print(json.dumps(figures))
        return figures
    print(f"\nFollow-up decision on {figures['file']} ({figures['pairs']} pairs: {figures['follow_ups']} follow-ups, "
          f"{figures['self_contained']} self-contained)")
    print(f"  precision {figures['precision']}   recall {figures['recall']}   accuracy {figures['accuracy']}"
          f"   (TP {figures['true_positives']}, FP {figures['false_positives']}, FN {figures['false_negatives']}, "
          f"TN {figures['true_negatives']})")
    print(f"  rewrites carrying every must_contain phrase: {figures['must_contain_hit_rate']} of follow-ups "
          f"({figures['must_contain_phrase_rate']} of phrases)")
    for row in figures["misclassified"]:
        label = "follow-up" if row["labelled"] else "self-contained"
        print(f"  misclassified {row['id']} (labelled {label}, decided {row['reason'] or 'self-contained'}): "
              f"{row['previous']!r} -> {row['question']!r}")
    for row in figures["rewrites_missing_words"]:
        print(f"  rewrite of {row['id']} lacks {row['missing']}: {row['searched_as']!r}")
    print(f"figures saved to {RESULTS.relative_to(ROOT)}")
    return figures


if __name__ == "__main__":
    main()
