"""Metric functions against values computed by hand: retrieval (ranx), ragas non-LLM answer and context metrics."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backend.evaluation.metrics import pareto_front, percentile, retrieval_scores, summarize
from backend.evaluation.ragas_runner import AnswerScorer, JudgeConfig, judge_from_settings, quote_containment


def test_retrieval_scores_binary_relevance_by_hand():
    # relevant: documents 1 and 3; ranked list 2, 1, 4, 3, 5; cut-off k = 3
    scores = retrieval_scores({1: 1, 3: 1}, [2, 1, 4, 3, 5], k=3)
    assert scores["recall@k"] == pytest.approx(1 / 2)
    assert scores["precision@k"] == pytest.approx(1 / 3)
    assert scores["hit_rate@k"] == pytest.approx(1.0)
    assert scores["mrr@10"] == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # hits at ranks 2 and 4
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert scores["ndcg@10"] == pytest.approx(dcg / idcg)  # 0.6509


def test_retrieval_scores_graded_relevance_by_hand():
    scores = retrieval_scores({1: 2, 3: 1}, [2, 1, 4, 3], k=1)
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert scores["ndcg@10"] == pytest.approx(dcg / idcg)  # linear gains: 0.6433
    assert scores["recall@k"] == 0.0 and scores["hit_rate@k"] == 0.0 and scores["precision@k"] == 0.0


def test_retrieval_scores_without_gold_or_without_results():
    assert all(v is None for v in retrieval_scores({}, [1, 2], k=3).values())
    assert all(v == 0.0 for v in retrieval_scores({1: 1}, [], k=3).values())


def test_quote_containment():
    assert quote_containment("Fees are  5 EUR.", "Intro. fees are 5 eur. More text.") == 1.0
    assert quote_containment("", "anything") == 0.0
    assert quote_containment("completely different words here", "the cat sat on the mat") < 0.9


@pytest.fixture(scope="module")
def scorer():
    class TwoDimEmbedder:  # fixed vectors so the cosine is known by hand
        table = {"north": [1.0, 0.0], "north-east": [1.0, 1.0]}

        def encode(self, texts):
            return np.array([self.table.get(t, [0.0, 1.0]) for t in texts], dtype=np.float32)

    return AnswerScorer(embedder=TwoDimEmbedder())


def test_answer_metrics_by_hand(scorer):
    s = scorer.score("q", "the cat sat on a mat", "the cat sat on the mat", [], [])
    # BLEU: n-gram precisions 5/6, 3/5, 2/4, 1/3; same length so no brevity penalty
    assert s["bleu"] == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25, abs=1e-6)
    # ROUGE-L: LCS 5 of 6 tokens both ways
    assert s["rouge_l"] == pytest.approx(5 / 6)
    # Levenshtein: "the" -> "a" is 3 edits (2 substitutions... measured on characters): 1 - 3/22
    assert s["string_similarity"] == pytest.approx(1 - 3 / 22)
    # context metrics need evidence quotes; none given
    assert s["context_precision"] is None and s["context_recall"] is None


def test_semantic_similarity_uses_the_embedder(scorer):
    s = scorer.score("q", "north-east", "north", [], [])
    assert s["semantic_similarity"] == pytest.approx(1 / math.sqrt(2), abs=1e-6)


def test_context_precision_and_recall_by_hand(scorer):
    contexts = ["Intro text. Transfers cost 5 EUR. More.", "nothing relevant at all in this one", "Refunds take 10 days."]
    evidence = ["Transfers cost 5 EUR.", "Refunds take 10 days."]
    s = scorer.score("q", "", "", contexts, evidence)
    # verdicts per retrieved chunk 1, 0, 1: average precision = (1/1 + 2/3) / 2
    assert s["context_precision"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-6)
    assert s["context_recall"] == pytest.approx(1.0)
    s = scorer.score("q", "", "", contexts[:2], evidence)
    assert s["context_recall"] == pytest.approx(0.5)
    assert scorer.score("q", "", "", [], evidence)["context_recall"] == 0.0


def test_abstention_scores_as_empty_answer(scorer):
    s = scorer.score("q", "The documents do not say.", "the cat sat on the mat", [], [], abstained=True)
    assert s["bleu"] == 0.0 and s["rouge_l"] == 0.0 and s["string_similarity"] == 0.0


def test_llm_metrics_marked_unavailable_without_judge(settings):
    judge = judge_from_settings(settings)
    assert not judge.available and "no judge configured" in judge.reason
    scorer = AnswerScorer(embedder=None, judge=judge)
    unavailable = scorer.unavailable()
    assert set(unavailable) >= {"faithfulness", "answer_relevancy", "llm_context_precision", "semantic_similarity"}
    assert "faithfulness" not in scorer.score("q", "a", "a", ["a"], [])
    configured = judge_from_settings(settings.model_copy(update={"openai_model": "llama3"}))
    assert configured.available and configured.model == "llama3"
    assert set(AnswerScorer(judge=JudgeConfig(model="m")).metric_names) >= {"faithfulness", "answer_relevancy"}


def test_summary_means_over_applicable_questions_and_percentiles():
    results = [
        {"metrics": {"recall@k": 1.0, "rouge_l": None}, "latency_ms": 10.0, "cost_usd": 0.0, "tokens_in": 10, "tokens_out": 5, "failure_class": "ok"},
        {"metrics": {"recall@k": 0.0, "rouge_l": 0.5}, "latency_ms": 30.0, "cost_usd": 0.002, "tokens_in": 20, "tokens_out": 5, "failure_class": "retrieval_miss"},
    ]
    summary = summarize(results, ["recall@k", "rouge_l"])
    assert summary["metrics"]["recall@k"] == 0.5
    assert summary["metrics"]["rouge_l"] == 0.5 and summary["coverage"]["rouge_l"] == 1
    assert summary["metrics"]["latency_p50_ms"] == 20.0
    assert summary["metrics"]["latency_p95_ms"] == pytest.approx(10 + 0.95 * 20)
    assert summary["metrics"]["cost_per_query_usd"] == pytest.approx(0.001)
    assert summary["metrics"]["tokens_per_query"] == 20.0
    assert summary["failures"] == {"ok": 1, "retrieval_miss": 1}
    assert percentile([], 50) is None


def test_pareto_front():
    quality = [0.9, 0.8, 0.7, 0.95, 0.7, None]
    latency = [100, 50, 60, 300, 50, 10]
    # 0.7@60 is beaten by 0.8@50; 0.7@50 is beaten by 0.8@50; None never on the front
    assert pareto_front(quality, latency) == [True, True, False, True, False, False]
    assert pareto_front([0.5, 0.5], [1, 1]) == [True, True]  # ties dominate neither


def test_at_k_metrics_score_the_context_not_the_deeper_ranking():
    # gold document 7 is ranked 3rd among documents, but the 3 context chunks came from documents 1, 2, 2
    scores = retrieval_scores({7: 1}, [1, 2, 7, 4], k=3, context=[1, 2])
    assert scores["recall@k"] == 0.0 and scores["hit_rate@k"] == 0.0 and scores["precision@k"] == 0.0
    assert scores["mrr@10"] == pytest.approx(1 / 3)
    assert scores["ndcg@10"] == pytest.approx(1 / math.log2(4))
    scores = retrieval_scores({7: 1, 9: 1}, [7, 1, 9], k=2, context=[7, 1])
    assert scores["recall@k"] == 0.5 and scores["precision@k"] == 0.5 and scores["hit_rate@k"] == 1.0


def test_evidence_match_is_the_best_quote_alignment_in_the_answer(scorer):
    evidence = ["Refunds take 10 days.", "Chargebacks within 120 days."]
    s = scorer.score("q", "Intro. Refunds take 10 days [1].", "A refund takes ten days.", [], evidence)
    assert s["evidence_match"] == 1.0
    assert scorer.score("q", "The documents do not say.", "x", [], evidence, abstained=True)["evidence_match"] == 0.0
    assert scorer.score("q", "answer", "ref", [], [])["evidence_match"] is None
