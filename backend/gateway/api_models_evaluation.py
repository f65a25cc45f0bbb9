"""The evaluation API's bodies as pydantic models: its queries validated with them, its answers documented by them."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Score = float | None  # a metric no question of the run could be scored on is null


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is named in a 422, never silently ignored


# --- queries -------------------------------------------------------------------------------------
class RunsQuery(_Query):
    collection: str | None = Field(None, description="only runs of this collection (default: every collection the "
                                   "caller may read)")
    gold_set: str | None = Field(None, description="only runs on this gold set")
    status: Literal["running", "finished", "failed"] | None = Field(
        None, description="only runs in this state (default: every state; `running` includes interrupted runs)")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class RunQuery(_Query):
    with_retrieved: bool = Field(False, description="include each question's ranked chunks (gold and in-context "
                                 "marked): the drill-down, larger")


class LeaderboardQuery(_Query):
    collection: str | None = Field(None, description="only runs of this collection (default: every readable one)")
    gold_set: str | None = Field(None, description="only runs on this gold set (runs compare on the same questions)")
    sort_by: str = Field("pass_rate", min_length=1, description="the metric to rank by (latency and cost: lowest first)")


# --- responses -----------------------------------------------------------------------------------
class EvaluationRun(BaseModel):
    id: int
    label: str = Field(description="the grid point in a few words")
    experiment_id: int | None = None
    experiment: str | None = None
    gold_set: str
    collection: str = Field(description="the collection the experiment evaluates")
    queried_collection: str = Field(description="the collection queried: the same, or a scratch copy chunked otherwise")
    status: str = Field(description="running, finished or failed")
    questions: int
    done: int = Field(description="questions scored so far")
    code_version: str
    index_version: int | None = None
    config: dict[str, Any] = Field(description="every setting the run used")
    metrics: dict[str, Score] = Field(description="the summary metrics (empty until the run is finished)")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class RunList(BaseModel):
    collection: str | None
    total: int
    limit: int
    offset: int
    runs: list[EvaluationRun]


class RetrievedChunk(BaseModel):
    rank: int
    chunk_id: int
    document_id: int | None = None
    document: str
    title: str | None = None
    score: float
    gold: bool = Field(description="from a document the gold set marks relevant")
    in_context: bool = Field(description="among the chunks given to the generator")
    text: str


class QuestionResult(BaseModel):
    item_id: str
    ordinal: int
    question: str
    answer: str | None = None
    reference_answer: str | None = None
    gold_rank: int | None = Field(None, description="best rank of a gold document; null when never retrieved")
    metrics: dict[str, Score]
    latency_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    failure_class: str | None = Field(None, description="ok, retrieval_miss, ranking_miss, generation_failure or error")
    failure_reason: str | None = None
    retrieved: list[RetrievedChunk] | None = Field(None, description="only with `with_retrieved=true`")


class RunDetail(EvaluationRun):
    coverage: dict[str, int] = Field(description="per metric, how many questions it was scored on")
    failures: dict[str, int] = Field(description="questions per failure class")
    unavailable: dict[str, str] = Field(description="metrics the run could not compute, with the reason")
    results: list[QuestionResult]


class LeaderboardEntry(BaseModel):
    rank: int
    run: int
    label: str
    experiment: str | None = None
    gold_set: str
    collection: str
    queried_collection: str
    questions: int
    code_version: str
    index_version: int | None = None
    finished_at: datetime | None = None
    metrics: dict[str, Score]


class Leaderboard(BaseModel):
    collection: str | None
    gold_set: str | None
    sort_by: str
    runs: list[LeaderboardEntry]


RESPONSES: list[type[BaseModel]] = [RunList, RunDetail, Leaderboard]
