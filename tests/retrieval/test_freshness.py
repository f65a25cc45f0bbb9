"""Current document versions outrank superseded ones; superseded ones stay findable."""
from backend.models import Chunk, Hit
from backend.platform import Platform
from backend.retrieval.freshness import demote_superseded
from backend.settings import Settings


def _hit(chunk_id: int, document_id: int, score: float) -> Hit:
    chunk = Chunk(chunk_id, document_id, "c", "t", 0, "text", 1, 0, 4)
    return Hit(chunk_id=chunk_id, fused_score=score, chunk=chunk)


def test_demote_superseded_reorders_and_keeps_every_hit():
    hits = [_hit(1, 10, 0.030), _hit(2, 20, 0.029), _hit(3, 30, 0.010)]
    ordered = demote_superseded(hits, {10}, 0.5)
    assert [h.chunk_id for h in ordered] == [2, 1, 3]
    assert ordered[1].fused_score == 0.015 and [h.rank for h in ordered] == [1, 2, 3]


def test_penalty_of_one_changes_nothing():
    hits = [_hit(1, 10, 0.03), _hit(2, 20, 0.02)]
    assert [h.chunk_id for h in demote_superseded(hits, {10}, 1.0)] == [1, 2]


POLICY = """---
title: Fees and charges {year}
effective_date: {date}
status: {status}
---
# Fees and charges {year}

## International transfers
A SWIFT international transfer costs {fee} per payment, charged when the payment is sent.{extra}
"""
OLD_EXTRA = " How much an international transfer costs depends on this table: the international transfer cost is fixed."


def _top_sources(data_dir, folder, penalty: float) -> dict[str, str]:
    with Platform(Settings(data_dir=data_dir, superseded_penalty=penalty)) as platform:
        if not platform.corpus.has_collection("policies"):
            assert not platform.corpus.ingest([folder], "policies").failed
        return {
            mode: platform.retriever.search("How much does an international transfer cost?", "policies", mode=mode, k=2)[0].chunk.source
            for mode in ("bm25", "hybrid")  # dense alone already prefers the 2025 wording here
        }


def test_current_version_ranks_first_through_the_platform(data_dir, tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "fees-2024.md").write_text(
        POLICY.format(year=2024, date="2024-03-01", status="superseded", fee="£5.00", extra=OLD_EXTRA))
    (folder / "fees-2025.md").write_text(
        POLICY.format(year=2025, date="2025-04-01", status="current", fee="£3.50", extra=""))
    # Without the penalty the superseded text is the better match: the test can tell the difference.
    baseline = _top_sources(data_dir, folder, 1.0)
    assert all(s.endswith("fees-2024.md") for s in baseline.values()), baseline
    assert all(s.endswith("fees-2025.md") for s in _top_sources(data_dir, folder, 0.5).values())
