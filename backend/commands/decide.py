"""`decide`: RAG-vs-fine-tuning analysis, capacity plan, cost comparison and catalog check from the command line."""
from __future__ import annotations

import json
from pathlib import Path

from backend.economics.capacity import CapacityInputs, plan_capacity
from backend.economics.catalog import SECTION_TITLES, SECTIONS, load_catalog
from backend.economics.cost_model import (
    RequestProfile,
    break_even_volume,
    cache_savings,
    llm_cost_per_request,
    monthly_api_cost,
    monthly_selfhosted_cost,
    usd,
)
from backend.economics.decision import CHECKLIST, RECOMMENDATION_TITLES, STYLE_LEVELS, TASKS, CostAssumptions, analyze
from backend.economics.report import decision_markdown, decision_pdf
from backend.economics.units import parse_count, parse_duration_ms, parse_fraction, parse_money, parse_number
from backend.models import InputError
from backend.settings import get_settings


def _catalog(args):
    return load_catalog(args.catalog or get_settings().pricing_catalog)


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))


def _analyze(args) -> int:
    raw = {
        "knowledge_changes": args.knowledge_changes, "needs_citations": args.needs_citations,
        "style_requirements": args.style_requirements, "task": args.task, "training_data": args.training_data,
        "latency_requirement": args.latency_requirement, "monthly_queries": args.monthly_queries,
        "checklist": args.checklist,
    }
    assumptions = CostAssumptions(llm=args.llm, fine_tune=args.fine_tune,
                                  months=parse_count(args.months, "months", minimum=1, maximum=120))
    result = analyze(raw, _catalog(args), assumptions)
    if args.report:
        path = Path(args.report)
        if path.suffix.lower() not in (".md", ".pdf"):
            raise InputError(f"--report: {path} must end in .md or .pdf")
        path.write_bytes(decision_pdf(result) if path.suffix.lower() == ".pdf" else decision_markdown(result).encode())
    if args.json:
        _print_json(result.to_dict())
        return 0
    print(f"Recommendation: {RECOMMENDATION_TITLES[result.recommendation]} ({result.recommendation})")
    print(result.summary)
    for factor in result.factors:
        print(f"  - {factor.reason}")
    for warning in result.warnings:
        print(f"  ! {warning}")
    print(f"\n{'approach':<12}{'monthly':>12}{'one-time':>12}{f'{assumptions.months}-mo TCO':>14}")
    for name, p in result.projections.items():
        print(f"{name:<12}{usd(p.monthly.total):>12}{usd(p.one_time.total):>12}{usd(p.tco):>14}")
    if args.report:
        print(f"\nreport written to {args.report}")
    return 0


def _profile(args) -> RequestProfile:
    return RequestProfile(parse_number(args.tokens_in, "--tokens-in"), parse_number(args.tokens_out, "--tokens-out"),
                          parse_number(args.embed_tokens, "--embed-tokens"))


def _plan(args) -> int:
    catalog = _catalog(args)
    inputs = CapacityInputs(
        peak_qps=parse_number(args.peak_qps, "--peak-qps", maximum=1e6, strict_minimum=True),
        slo_p95_ms=parse_duration_ms(args.slo, "--slo"),
        cost_ceiling_usd=parse_money(args.cost_ceiling, "--cost-ceiling"),
        gpu=catalog.find("gpus", args.gpu),
        tokens_in=parse_number(args.tokens_in, "--tokens-in", maximum=1e7),
        tokens_out=parse_number(args.tokens_out, "--tokens-out", maximum=1e7),
        gpus_available=parse_count(args.gpus_available, "--gpus-available", minimum=1, maximum=100_000),
        utilisation=parse_fraction(args.utilisation, "--utilisation"),
        cache_hit_rate=parse_fraction(args.cache_hit_rate, "--cache-hit-rate"),
        reranker=catalog.find("rerankers", args.reranker) if args.reranker else None,
        rerank_candidates=parse_count(args.rerank_candidates, "--rerank-candidates", maximum=10_000),
    )
    if inputs.utilisation == 0:
        raise InputError("--utilisation: must be above 0%")
    if inputs.cache_hit_rate >= 1:
        raise InputError("--cache-hit-rate: must be below 100%")
    plan = plan_capacity(inputs)
    data = {
        "replicas": plan.replicas, "replicas_driver": plan.replicas_driver, "concurrency": round(plan.concurrency, 3),
        "monthly_cost": round(plan.monthly_cost_usd, 2), "p95_latency_ms": round(plan.total_latency_ms, 1),
        "latency": {s.stage: {"ms": round(s.ms, 1), "source": s.source} for s in plan.latency},
        "reranker_fits": plan.reranker_fits, "feasible": plan.feasible, "binding": plan.binding.name,
        "relax": plan.binding.relax, "formulas": plan.formulas,
    }
    if args.json:
        _print_json(data)
        return 0
    for name, formula in plan.formulas.items():
        print(f"{name:>25}: {formula}")
    verdict = "fits" if plan.feasible else "does not fit"
    print(f"\nThe plan {verdict}; binding constraint: {plan.binding.name} ({plan.binding.ratio:.0%} of its limit).")
    for option in plan.binding.relax:
        print(f"  - {option}")
    return 0


def _cost(args) -> int:
    catalog = _catalog(args)
    queries = parse_count(args.monthly_queries, "--monthly-queries")
    hit = parse_fraction(args.cache_hit_rate, "--cache-hit-rate")
    if hit >= 1:
        raise InputError("--cache-hit-rate: must be below 100%")
    utilisation = parse_fraction(args.utilisation, "--utilisation")
    profile = _profile(args)
    llm, gpu = catalog.find("llm_apis", args.llm), catalog.find("gpus", args.gpu)
    embedding, vector_db = catalog.find("embedding_apis", None), catalog.find("vector_dbs", None)
    api = monthly_api_cost(queries, profile, llm, embedding, vector_db, cache_hit_rate=hit)
    hosted = monthly_selfhosted_cost(queries, profile, gpu, embedding, vector_db, cache_hit_rate=hit, utilisation=utilisation)
    even = break_even_volume(profile, llm, gpu, utilisation, hit)
    saved = cache_savings(queries, profile, llm, hit)
    formulas = [f"{line.name}: {line.formula}" for line in api.lines + hosted.lines] + [even.formula, saved.formula]
    data = {
        "cost_per_request": llm_cost_per_request(profile, llm),
        "api": {"monthly_cost": round(api.total, 2), "costs": api.as_dict()},
        "self_hosted": {"monthly_cost": round(hosted.total, 2), "costs": hosted.as_dict()},
        "break_even_queries": even.first_volume, "self_hosted_cheaper_above": even.sustained_volume,
        "cache_savings": round(saved.usd, 2),
        "formulas": formulas,
    }
    if args.json:
        _print_json(data)
        return 0
    print(f"API ({llm.name}): {usd(api.total)}/month; self-hosted ({gpu.name}): {usd(hosted.total)}/month")
    for formula in formulas:
        print(f"  - {formula}")
    return 0


def _check_catalog(args) -> int:
    catalog = _catalog(args)
    for section in SECTIONS:
        print(f"{SECTION_TITLES[section]}: {len(getattr(catalog, section))} rows")
    print("catalog is valid")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("decide", help="RAG vs fine-tuning, capacity plan, cost comparison")
    parser.set_defaults(store=False)  # prices and formulas only: runs beside a running server as it is
    sub = parser.add_subparsers(dest="decide_command", required=True, metavar="ACTION")

    def with_catalog(p):
        p.add_argument("--catalog", help="pricing catalog YAML (default: GROUNDWORK_PRICING_CATALOG)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        return p

    a = with_catalog(sub.add_parser("analyze", help="the five questions to a recommendation with costs"))
    a.add_argument("--knowledge-changes", required=True, help="daily, weekly, monthly, every 2 weeks, rarely, never")
    a.add_argument("--needs-citations", required=True, help="true or false")
    a.add_argument("--style-requirements", help=f"one of {', '.join(STYLE_LEVELS)} (high means behaviour matters)")
    a.add_argument("--task", help=f"one of {', '.join(TASKS)} (overrides --style-requirements)")
    a.add_argument("--training-data", required=True, help='training examples, e.g. "200 examples"')
    a.add_argument("--latency-requirement", required=True, help="e.g. 2s or 80ms")
    a.add_argument("--monthly-queries", required=True, help="e.g. 100000 or 100k")
    a.add_argument("--checklist", default="", help=f"comma-separated checklist items that hold, or all: {', '.join(CHECKLIST)}")
    a.add_argument("--llm", help="LLM API row of the catalog (default: first)")
    a.add_argument("--fine-tune", help="fine_tuning row of the catalog (default: by data sufficiency)")
    a.add_argument("--months", default="24", help="TCO horizon in months")
    a.add_argument("--report", help="also write the report to PATH.md or PATH.pdf")
    a.set_defaults(handler=_analyze)

    p = with_catalog(sub.add_parser("plan", help="GPU replicas, latency budget and binding constraint"))
    p.add_argument("--peak-qps", required=True)
    p.add_argument("--slo", required=True, help="p95 latency SLO, e.g. 2s")
    p.add_argument("--cost-ceiling", required=True, help="monthly ceiling in USD, e.g. 5000 or $5k")
    p.add_argument("--gpu", help="gpus row of the catalog (default: first)")
    p.add_argument("--gpus-available", default="8")
    p.add_argument("--utilisation", default="70%", help="target peak utilisation (headroom = the rest)")
    p.add_argument("--tokens-in", default="1000")
    p.add_argument("--tokens-out", default="200")
    p.add_argument("--cache-hit-rate", default="0")
    p.add_argument("--reranker", help="rerankers row of the catalog (default: none)")
    p.add_argument("--rerank-candidates", default="50")
    p.set_defaults(handler=_plan)

    c = with_catalog(sub.add_parser("cost", help="monthly cost on an API vs a self-hosted GPU, and the break-even"))
    c.add_argument("--monthly-queries", required=True)
    c.add_argument("--llm", help="llm_apis row (default: first)")
    c.add_argument("--gpu", help="gpus row (default: first)")
    c.add_argument("--tokens-in", default="1000")
    c.add_argument("--tokens-out", default="200")
    c.add_argument("--embed-tokens", default="100")
    c.add_argument("--cache-hit-rate", default="0")
    c.add_argument("--utilisation", default="60%")
    c.set_defaults(handler=_cost)

    k = with_catalog(sub.add_parser("catalog", help="validate the pricing catalog"))
    k.set_defaults(handler=_check_catalog)
