"""Two tenants' evaluation data for scoping tests: each a collection, a gold set, an experiment and a finished run,
written through the same calls the runner uses, with the tenant's name in every text (a leak shows as it)."""
from __future__ import annotations

from dataclasses import dataclass, field

from backend.evaluation import goldsets, runs
from backend.evaluation.metrics import summarize
from backend.gateway.identity import Identity
from backend.models import LoadedDocument

PASSWORD = "correct horse battery"


def store_run(store, *, tenant: str, collection: str, gold_set: str, label: str, pass_rates: list[float],
              experiment_id: int | None = None, finish: bool = True, latency: float = 10.0,
              more_metrics: dict | None = None) -> int:
    """A run with one result per pass rate (plus `more_metrics` on each); its questions, answers and chunks name
    `tenant`."""
    run_id = runs.create_run(store, experiment_id=experiment_id, label=label, gold_set=gold_set, gold_hash="h",
                             base_collection=collection, collection=collection, config={"retrieval_mode": "bm25"},
                             config_hash=f"{tenant}-{label}", index_version=1, n_questions=len(pass_rates))
    for n, passed in enumerate(pass_rates if finish else pass_rates[:1]):
        runs.save_result(store, run_id, {
            "item_id": f"q{n + 1}", "ordinal": n, "question": f"What does {tenant} charge, question {n + 1}?",
            "answer": f"{tenant} charges {n + 1} EUR [1].", "reference_answer": f"{tenant} reference {n + 1}.",
            "metrics": {"pass_rate": passed, "recall@k": 1.0, **(more_metrics or {})}, "gold_rank": 1, "latency_ms": latency + n,
            "tokens_in": 10, "tokens_out": 5, "cost_usd": 0.0, "failure_class": "ok" if passed else "retrieval_miss",
            "failure_reason": f"{tenant} reason",
            "retrieved": [{"rank": 1, "chunk_id": 1, "document_id": 1, "document": f"{tenant}.md", "title": tenant,
                           "score": 0.5, "gold": True, "in_context": True, "text": f"{tenant} fees text"}],
        })
    if finish:
        results = runs.results(store, run_id, with_retrieved=False)
        runs.finish_run(store, run_id, {**summarize(results, ["pass_rate", "recall@k"]),
                                        "unavailable": {"faithfulness": f"unavailable for {tenant}"}})
    return run_id


@dataclass
class Tenants:
    """What two_tenants made: per tenant its collection, gold set, experiment and finished run."""

    collection: dict[str, str] = field(default_factory=dict)
    gold_set: dict[str, str] = field(default_factory=dict)
    experiment: dict[str, int] = field(default_factory=dict)
    run: dict[str, int] = field(default_factory=dict)


def two_tenants(platform) -> Tenants:
    """Tenants acme and globex, each with a collection (one document), a gold set, an experiment and a finished run;
    users olga (acme operator), stan (acme stakeholder), alice (acme analyst granted acme-docs), gina (globex
    operator), bob (globex analyst, no grant)."""
    made = Tenants()
    gateway = platform.gateway
    for tenant in ("acme", "globex"):
        gateway.create_tenant(tenant)
        name = made.collection[tenant] = f"{tenant}-docs"
        platform.corpus.create_collection(name, tenant=tenant)
        report = platform.corpus.ingest_records(name, [LoadedDocument(
            source=f"{tenant}/fees.md", title=f"{tenant} fees", mime_type="text/markdown",
            text=f"Fees of {tenant}. The fee for an international transfer at {tenant} is set by {tenant}.")])
        assert not report.failed, report.failed
        gold = goldsets.GoldSet(f"{tenant}-gold", "upload", name, [goldsets.GoldItem(
            "q1", f"What does {tenant} charge?", f"{tenant} charges a fee.", {"fees.md": 1}, line=1)], f"{tenant}.jsonl")
        made.gold_set[tenant] = goldsets.register_goldset(platform, gold).name
        made.experiment[tenant] = runs.create_experiment(platform.store, f"{tenant}-experiment", gold.name,
                                                         {"name": f"{tenant}-experiment", "grid": {"top_k": [3]}}, name)
        made.run[tenant] = store_run(platform.store, tenant=tenant, collection=name, gold_set=gold.name,
                                     label=f"{tenant} bm25", pass_rates=[1.0, 0.0], experiment_id=made.experiment[tenant])
    for user, tenant, role in (("olga", "acme", "operator"), ("stan", "acme", "stakeholder"), ("alice", "acme", "analyst"),
                               ("gina", "globex", "operator"), ("bob", "globex", "analyst")):
        gateway.create_user(user, tenant, role, PASSWORD)
    gateway.create_group("acme-analysts", "acme")
    gateway.add_member("acme-analysts", "alice")
    gateway.grant("acme-analysts", "acme-docs")
    return made


def context_of(platform, user: str):
    """The RequestContext the gateway builds for `user` (their tenant, role and grants)."""
    row = platform.gateway.user(user)
    return platform.gateway.context_for(Identity(user=user, tenant=row["tenant"], role=row["role"]))
