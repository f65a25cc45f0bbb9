"""Experiment files (validation errors name the field; the grid expands to distinct runs) and failure classes."""
from __future__ import annotations

import pytest

from backend.evaluation.failure_analysis import Outcome, classify
from backend.evaluation.grid import expand_grid, load_experiment, parse_experiment
from backend.models import InputError


def test_grid_expands_and_drops_settings_that_cannot_matter(settings):
    experiment = parse_experiment({"grid": {
        "retrieval_mode": ["bm25", "hybrid"], "fusion": ["rrf", "weighted"], "dense_weight": [0.3, 0.7], "top_k": [3, 5, 5]}},
        "g.yaml")
    points = expand_grid(experiment, settings)
    # bm25: fusion/weights ignored -> 2 (k); hybrid rrf: weights ignored -> 2; hybrid weighted: 2 weights x 2 k -> 4
    assert len(points) == 8
    labels = [p.label for p in points]
    assert "bm25 k=3" in labels and "hybrid k=5 weighted w_dense=0.7" in labels
    assert len({p.config_hash for p in points}) == 8
    assert points[0].settings.top_k == 3 and points[0].config["retrieval_mode"] == "bm25"


@pytest.mark.parametrize("data, message", [
    ({"grid": {"top_k": [0]}}, "g.yaml: grid.top_k[0] = 0: must be between 1 and 100"),
    ({"grid": {"top_k": ["five"]}}, "grid.top_k[0] = 'five'"),
    ({"grid": {"retrieval_mode": ["bm25", "sparse"]}}, "grid.retrieval_mode[1] = 'sparse'"),
    ({"grid": {"colour": ["red"]}}, "grid.colour is not a setting"),
    ({"grid": {"top_k": []}}, "grid.top_k is an empty list"),
    ({"grid": {"dense_weight": [1.5]}}, "grid.dense_weight[0] = 1.5: must be between 0.0 and 1.0"),
    ({"grid": {"compress_context": ["yes"]}}, "grid.compress_context[0]"),
    ({"grid": {"chunk_tokens": [64], "chunk_overlap": [64]}}, "chunk_overlap must be >= 0 and below chunk_tokens"),
    ({"grid": {"top_k": [3]}, "limit": 0}, "field 'limit' must be a positive integer"),
    ({"grid": {"top_k": [3]}, "extra": 1}, "unknown field 'extra'"),
    ({"grid": {"top_k": [3]}, "retrieval_only": "yes"}, "field 'retrieval_only' must be true or false"),
    ({"grid": "top_k"}, "field 'grid' must map"),
    (["top_k"], "expected a mapping"),
])
def test_invalid_experiments_name_the_field(settings, data, message):
    with pytest.raises(InputError) as info:
        expand_grid(parse_experiment(data, "g.yaml"), settings)
    assert message in str(info.value)


def test_yaml_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("grid:\n  top_k: [3, 5\n")
    with pytest.raises(InputError, match=r"bad.yaml line \d+: not valid YAML"):
        load_experiment(path)
    with pytest.raises(InputError, match="experiment file not found"):
        load_experiment(tmp_path / "none.yaml")


def test_shipped_experiment_files_are_valid(settings):
    from backend.evaluation.grid import EXAMPLES_DIR, example_configs

    assert {"demo-grid.yaml", "scifact.yaml"} <= set(example_configs())
    for name in example_configs():
        experiment = load_experiment(EXAMPLES_DIR / name)
        assert 2 <= len(expand_grid(experiment, settings)) <= 24, name
    assert load_experiment(EXAMPLES_DIR / "scifact.yaml").retrieval_only is True


def _outcome(**kw):
    base = dict(answerable=True, has_gold_documents=True, gold_rank=1, gold_in_context=True, abstained=False,
                answer_score=0.9, supported=True)
    return Outcome(**{**base, **kw})


@pytest.mark.parametrize("kw, expected", [
    ({}, "ok"),
    ({"gold_rank": None, "gold_in_context": False}, "retrieval_miss"),
    ({"gold_rank": 7, "gold_in_context": False}, "ranking_miss"),
    ({"abstained": True}, "generation_failure"),
    ({"answer_score": 0.2}, "generation_failure"),
    ({"supported": False}, "generation_failure"),
    ({"answerable": False, "abstained": True, "gold_rank": None}, "ok"),
    ({"answerable": False, "abstained": False}, "generation_failure"),
    ({"has_gold_documents": False, "gold_rank": None, "gold_in_context": False}, "ok"),
    ({"error": "boom"}, "error"),
])
def test_failure_classes(kw, expected):
    assert classify(_outcome(**kw), min_answer_score=0.6)[0] == expected


def test_failure_reason_says_where_gold_was():
    assert "rank 7" in classify(_outcome(gold_rank=7, gold_in_context=False))[1]
