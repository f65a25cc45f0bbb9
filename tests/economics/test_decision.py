"""The decision table: each question flips the recommendation where it should; costs pinned to hand arithmetic."""
import pytest

from backend.economics.decision import CostAssumptions, analyze, data_sufficiency, parse_decision_inputs
from backend.models import InputError

# Behaviour task, stable uncited knowledge, enough examples, relaxed latency: fine-tuning.
BASE = {"knowledge_changes": "rarely", "needs_citations": "false", "task": "behaviour",
        "training_data": "200 examples", "latency_requirement": "2s", "monthly_queries": "100000"}


def recommend(catalog, **changes) -> str:
    return analyze({**BASE, **changes}, catalog).recommendation


def test_baseline_is_fine_tuning(catalog):
    assert recommend(catalog) == "fine-tuning"


@pytest.mark.parametrize("changes, expected", [
    ({"knowledge_changes": "weekly"}, "hybrid"),          # 1. knowledge changes often -> knowledge must be retrieved
    ({"knowledge_changes": "every 2 weeks"}, "hybrid"),
    ({"knowledge_changes": "every 9 months"}, "fine-tuning"),
    ({"needs_citations": "true"}, "hybrid"),              # 2. citations -> retrieval
    ({"task": "knowledge"}, "rag"),                        # 3. knowledge vs behaviour
    ({"task": "both"}, "hybrid"),
    ({"task": "unsure"}, "rag-default"),
    ({"training_data": "99"}, "rag"),                      # 4. under 100 examples: do not fine-tune
    ({"training_data": "100"}, "fine-tuning"),
])
def test_each_question_flips_the_recommendation(catalog, changes, expected):
    assert recommend(catalog, **changes) == expected


def test_latency_flips_an_open_question_to_fine_tuning(catalog):
    # 5. latency: with nothing else deciding, under 100 ms means no retrieval hop
    assert recommend(catalog, task="unsure", latency_requirement="2s") == "rag-default"
    assert recommend(catalog, task="unsure", latency_requirement="80ms") == "fine-tuning"
    assert recommend(catalog, task="unsure", latency_requirement="100ms") == "rag-default"
    # ...but not without examples, nor when the knowledge changes
    assert recommend(catalog, task="unsure", latency_requirement="80ms", training_data="50") == "rag-default"
    result = analyze({**BASE, "task": "unsure", "latency_requirement": "80ms", "knowledge_changes": "daily"}, catalog)
    assert result.recommendation == "rag"
    assert any("80 ms target leaves little room for retrieval" in w for w in result.warnings)


def test_the_issue_example_is_hybrid_with_a_reason_per_factor(catalog):
    result = analyze({"knowledge_changes": "weekly", "needs_citations": "true", "style_requirements": "high",
                      "training_data": "200 examples", "latency_requirement": "2s", "monthly_queries": "100000"}, catalog)
    assert result.recommendation == "hybrid"
    assert [f.points_to for f in result.factors] == ["rag", "rag", "hybrid", "lora", "rag"]
    assert result.factors[2].answer == "both (from style requirements: high)"
    assert len(result.reasons) >= 5 and all(result.reasons)


def test_style_requirements_map_to_the_task_question(catalog):
    assert parse_decision_inputs({**BASE, "task": None, "style_requirements": "high"}).task == "both"
    assert parse_decision_inputs({**BASE, "task": None, "style_requirements": "low"}).task == "knowledge"
    assert parse_decision_inputs({**BASE, "task": None}).task == "unsure"
    assert parse_decision_inputs({**BASE, "style_requirements": "high"}).task == "behaviour"  # --task wins


@pytest.mark.parametrize("examples, level", [(0, "none"), (99, "none"), (100, "lora"), (1000, "lora"), (1001, "full")])
def test_data_sufficiency_boundaries(examples, level):
    assert data_sufficiency(examples).level == level


def test_rag_costs_are_pinned(catalog):
    result = analyze({**BASE, "task": "knowledge"}, catalog)
    rag = result.projections["rag"]
    # 100,000 queries x 1,000 tokens x $2.50 / 1M = $250, not $2,500
    assert rag.monthly.get("LLM input tokens") == pytest.approx(250.0)
    assert rag.monthly.get("LLM output tokens") == pytest.approx(200.0)  # 100,000 x 200 x $10 / 1M
    assert rag.monthly.get("query embeddings") == pytest.approx(0.2)  # 100,000 x 100 x $0.02 / 1M
    assert rag.monthly.get("vector database") == 70.0
    assert rag.tco == pytest.approx(rag.one_time.total + 24 * rag.monthly.total)
    data = result.to_dict()
    assert data["recommendation"] == "rag" and data["monthly_cost"] == pytest.approx(rag.monthly.total, abs=0.01)
    assert data["costs"]["LLM input tokens"] == 250.0
    assert "LLM input tokens: 100,000 requests x 1,000 tokens x $2.50/1M = $250" in data["projections"]["rag"]["formulas"]


def test_fine_tuning_costs_follow_retraining_and_option(catalog):
    weekly = analyze({**BASE, "knowledge_changes": "weekly"}, catalog).projections["fine-tuning"]
    rarely = analyze(BASE, catalog).projections["fine-tuning"]
    # LoRA run: $200 fixed; weekly knowledge -> 30/7 retrains a month; rarely -> the twice-a-year refresh
    assert weekly.monthly.get("retraining compute") == pytest.approx(30 / 7 * 200)
    assert rarely.monthly.get("retraining compute") == pytest.approx(1 / 6 * 200)
    assert weekly.one_time.get("training runs") == pytest.approx(4 * 200)
    # the tuned model answers without retrieved context: 100,000 x 200 tokens x $2.50 / 1M
    assert weekly.monthly.get("tuned model input tokens") == pytest.approx(50.0)
    full = analyze({**BASE, "training_data": "2000"}, catalog)
    assert full.fine_tune_option == "managed full fine-tune"
    # 2,000 examples x 500 tokens x 3 epochs = 3M tokens x $25 / 1M = $75 a run
    assert full.projections["fine-tuning"].one_time.get("training runs") == pytest.approx(4 * 75.0)
    assert full.projections["fine-tuning"].monthly.get("tuned model input tokens") == pytest.approx(100_000 * 200 * 12 / 1e6)
    months = analyze(BASE, catalog, CostAssumptions(months=12)).projections["rag"]
    assert months.tco == pytest.approx(months.one_time.total + 12 * months.monthly.total)


def test_checklist_readiness(catalog):
    result = analyze({**BASE, "checklist": "tried_rag_few_shot,eval_pipeline"}, catalog)
    assert result.checklist["examples_100"] and result.checklist["knowledge_static"]
    assert result.checklist["tried_rag_few_shot"] and not result.checklist["forgetting_tested"]
    assert result.checklist_score == 5  # 3 from the answers + 2 ticked
    assert any(w.startswith("Fine-tuning checklist 5/10") for w in result.warnings)
    assert analyze({**BASE, "checklist": ["all"]}, catalog).checklist_score == 10 - 1  # latency is not critical
    with pytest.raises(InputError, match="checklist: unknown item 'vibes'"):
        analyze({**BASE, "checklist": "vibes"}, catalog)


@pytest.mark.parametrize("field, value, message", [
    ("monthly_queries", "-100", "monthly queries: '-100' must be at least 1"),
    ("monthly_queries", "lots", "monthly queries: 'lots' is not a number"),
    ("monthly_queries", "1e15", "monthly queries: '1e15' is beyond the planner's range"),
    ("knowledge_changes", "2 fortnights", "knowledge changes: unknown unit 'fortnights'"),
    ("latency_requirement", "soon", "latency requirement: 'soon' is not a duration"),
    ("training_data", "a few", "training data: 'a few' is not a number"),
    ("needs_citations", "perhaps", "needs citations: 'perhaps' is not yes/no"),
    ("task", "vibes", "task: 'vibes' is not one of"),
    ("latency_requirement", "", "latency requirement: an answer is required"),
])
def test_bad_answers_name_the_field(catalog, field, value, message):
    with pytest.raises(InputError) as err:
        analyze({**BASE, field: value}, catalog)
    assert str(err.value).startswith(message)
