"""Evaluation: BEIR import and retrieval metrics, gold sets, ragas runs, leaderboard."""
