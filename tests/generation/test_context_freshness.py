"""A superseded version never displaces the current one that answers: the demo's 2024 and 2025 fee policies."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backend.evaluation.grid import expand_grid, load_experiment
from backend.generation.context import assemble_context
from backend.generation.encoder import RelevanceScorer
from backend.platform import Platform
from backend.settings import Settings

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
GRIDS = Path(__file__).resolve().parents[2] / "data" / "eval"
NOW = "How much does an international transfer cost?"  # gold q001: £3.50 since 1 April 2025
THEN = "What was the international transfer fee under the 2024 Fees and Charges Policy?"  # gold q004: £5.00
OLD_FEE = "costs a flat £5.00 per transfer"  # the 2024 policy's sentence
NEW_FEE = "From 1 April 2025 an international transfer sent over SWIFT costs £3.50 per transfer"


@pytest.fixture(scope="module")
def fees(tmp_path_factory):
    root = tmp_path_factory.mktemp("fees")
    (root / "docs").mkdir()
    for name in ("fees-and-charges-2024.md", "fees-and-charges-2025.md"):
        shutil.copy(DEMO / name, root / "docs" / name)
    platform = Platform(Settings(data_dir=root / "data"))
    assert not platform.corpus.ingest([root / "docs"], "fees").failed
    yield platform
    platform.close()


def _version(hit) -> str:
    return Path(hit.chunk.source).name


def _answers_now(chunk) -> bool:
    return "£3.50" in chunk.text  # the sending-money table and sentence, and the what-changed table


def _grid_points(platform) -> list:
    """Every configuration the shipped grids over the demo collection run (chunking grids re-index: not here)."""
    points = []
    for name in ("demo-grid.yaml", "rerank-compress.yaml"):
        points += expand_grid(load_experiment(GRIDS / name), platform.settings)
    tight = platform.settings.model_copy(update={"context_token_budget": 200})  # about one chunk
    return points + [type(points[0])(overrides={"context_token_budget": 200}, settings=tight, label="budget=200")]


def test_a_superseded_chunk_ranked_above_a_current_one_goes_after_it_and_is_left_out_first(fees):
    hits = fees.retriever.search(NOW, "fees", mode="bm25", k=3)
    ranked = [(_version(h), _answers_now(h.chunk)) for h in hits]
    # As retrieval returns them: the 2024 payment-fees chunk sits between two current chunks that give £3.50.
    assert ranked == [("fees-and-charges-2025.md", True), ("fees-and-charges-2024.md", False),
                      ("fees-and-charges-2025.md", True)], ranked
    first, old, current = (h.chunk for h in hits)
    assert OLD_FEE in old.text

    pack = assemble_context(hits, NOW, 10_000)
    assert [p.chunk.id for p in pack.passages] == [first.id, current.id, old.id]
    assert [p.number for p in pack.passages] == [1, 2, 3] and pack.passages[2].superseded

    # Room for two chunks: in rank order the old one would have taken the current one's place.
    assert current.token_count <= old.token_count
    budget = first.token_count + old.token_count
    tight = assemble_context(hits, NOW, budget)
    assert [p.chunk.id for p in tight.passages] == [first.id, current.id] and tight.dropped == [old.id]

    squeezed = assemble_context(hits, NOW, budget, compress=True, scorer=RelevanceScorer(fees.chat.encoder))
    assert [p.chunk.id for p in squeezed.passages][:2] == [first.id, current.id]


def test_a_question_about_the_past_keeps_the_rank_order_and_the_old_version_undemoted(fees):
    hits = fees.retriever.search(THEN, "fees", mode="bm25", k=5)
    old = [h for h in hits if OLD_FEE in h.chunk.text]
    assert old and old[0].scores["superseded_penalty"] == 1.0  # marked as the old version, not pushed down
    assert old[0].fused_score == old[0].scores["bm25"]
    pack = assemble_context(hits, THEN, 10_000)
    assert [p.chunk.id for p in pack.passages] == [h.chunk_id for h in hits]
    assert next(p for p in pack.passages if p.chunk.id == old[0].chunk_id).superseded


def test_the_cut_to_k_comes_after_the_demotion(fees):
    # Cut first, a superseded chunk demoted below the cut would still hold a current chunk's place.
    for mode in ("bm25", "dense", "hybrid"):
        deep = [h.chunk_id for h in fees.retriever.search(NOW, "fees", mode=mode, k=10)]
        for k in (1, 2, 3, 5):
            assert [h.chunk_id for h in fees.retriever.search(NOW, "fees", mode=mode, k=k)] == deep[:k], (mode, k)


@pytest.mark.parametrize("k", [3, 5, 8])
def test_mmr_reranking_keeps_the_current_version_ahead(fees, k):
    derived = fees.derive(reranker="mmr", mmr_lambda=0.5)
    hits = derived.retriever.search(NOW, "fees", mode="hybrid", k=k)
    assert NEW_FEE in hits[0].chunk.text
    versions = [_version(h) for h in hits]
    if "fees-and-charges-2024.md" in versions:
        first_old = versions.index("fees-and-charges-2024.md")
        assert all(_version(h) == "fees-and-charges-2025.md" for h in hits[:first_old])


def test_every_grid_configuration_answers_with_the_current_fee(fees):
    for point in _grid_points(fees):
        chat = fees.derive(point.settings).chat
        answer = chat.ask(NOW, "fees", mode=point.settings.retrieval_mode, k=point.settings.top_k,
                          remember=False, use_cache=False)
        assert "£3.50" in answer.text and OLD_FEE not in answer.text, (point.label, answer.text)
        assert answer.citations and all(c.title == "Fees and Charges Policy (2025)" for c in answer.citations), point.label


def test_every_grid_configuration_still_answers_the_2024_question_with_the_old_fee(fees):
    for point in _grid_points(fees):
        chat = fees.derive(point.settings).chat
        answer = chat.ask(THEN, "fees", mode=point.settings.retrieval_mode, k=point.settings.top_k,
                          remember=False, use_cache=False)
        assert "£5.00" in answer.text, (point.label, answer.text)
