"""RAG versus fine-tuning: the five questions and the checklist to a recommendation, with costs for each approach."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from backend.economics.catalog import Catalog, FineTuneOption
from backend.economics.cost_model import MILLION, CostBreakdown, CostLine, llm_token_lines, usd
from backend.economics.units import (
    ChangeFrequency,
    parse_bool,
    parse_change_frequency,
    parse_choice,
    parse_count,
    parse_duration_ms,
)
from backend.models import InputError

RECOMMENDATION_TITLES = {
    "rag": "RAG", "fine-tuning": "Fine-tuning (LoRA)", "hybrid": "Hybrid: RAG + a LoRA adapter",
    "rag-default": "RAG, the safe default",
}
TASKS = ("knowledge", "behaviour", "both", "unsure")
STYLE_LEVELS = ("none", "low", "medium", "high")
APPROACH_TITLES = {"rag": "RAG", "fine-tuning": "Fine-tuned", "hybrid": "Hybrid"}
STRICT_LATENCY_MS = 100
MIN_EXAMPLES_LORA = 100
RELIABLE_EXAMPLES = 500
FULL_FINE_TUNE_ABOVE = 1000
MAX_RETRAINS_PER_MONTH = 30  # retraining more often than daily is not a plan

CHECKLIST: dict[str, str] = {
    "examples_100": "100+ high-quality examples (500+ preferred)",
    "knowledge_static": "Knowledge stays static for 6+ months",
    "behaviour_change": "A behaviour change is needed (voice, format), not new facts",
    "tried_rag_few_shot": "RAG + few-shot prompting tried first",
    "eval_pipeline": "An evaluation pipeline is ready",
    "afford_cycles": "Budget for 3-5 training cycles",
    "maintenance_plan": "A maintenance plan for when base models improve",
    "forgetting_tested": "Catastrophic forgetting will be tested",
    "latency_critical": "Latency is critical enough to drop retrieval",
    "beats_prompting": "A clear reason why fine-tuning beats prompting",
}
# Items the five answers already settle; the rest are ticked by the person.
DERIVED_CHECKLIST = ("examples_100", "knowledge_static", "behaviour_change", "latency_critical")


@dataclass(frozen=True)
class DecisionInputs:
    knowledge_changes: ChangeFrequency
    needs_citations: bool
    task: str
    training_examples: int
    latency_ms: float
    monthly_queries: int
    style_requirements: str | None = None
    checklist: frozenset[str] = frozenset()

    @property
    def task_note(self) -> str:
        return f" (from style requirements: {self.style_requirements})" if self.style_requirements else ""


def parse_decision_inputs(raw: Mapping[str, Any]) -> DecisionInputs:
    """Answers as typed (CLI flags or page fields) to DecisionInputs; InputError names the first bad field."""
    def required(key: str, label: str):
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InputError(f"{label}: an answer is required")
        return value

    style = raw.get("style_requirements")
    style = parse_choice(style, "style requirements", STYLE_LEVELS, {"strict": "high", "moderate": "medium"}) if style else None
    task = raw.get("task")
    if task:
        task = parse_choice(task, "task", TASKS, {"behavior": "behaviour", "style": "behaviour", "knowledge and behaviour": "both"})
        style_note = None
    elif style:
        # High style requirements mean a trained behaviour on top of answering from knowledge.
        task, style_note = ("both" if style == "high" else "knowledge"), style
    else:
        task, style_note = "unsure", None
    checklist_raw = raw.get("checklist") or ()
    if isinstance(checklist_raw, str):
        checklist_raw = [item.strip() for item in checklist_raw.split(",") if item.strip()]
    checklist_raw = list(CHECKLIST) if list(checklist_raw) == ["all"] else list(checklist_raw)
    unknown = [item for item in checklist_raw if item not in CHECKLIST]
    if unknown:
        raise InputError(f"checklist: unknown item {unknown[0]!r} (known: {', '.join(CHECKLIST)})")
    return DecisionInputs(
        knowledge_changes=parse_change_frequency(required("knowledge_changes", "knowledge changes"), "knowledge changes"),
        needs_citations=parse_bool(required("needs_citations", "needs citations"), "needs citations"),
        task=task,
        training_examples=parse_count(required("training_data", "training data"), "training data", maximum=1e9),
        latency_ms=parse_duration_ms(required("latency_requirement", "latency requirement"), "latency requirement"),
        monthly_queries=parse_count(required("monthly_queries", "monthly queries"), "monthly queries", minimum=1),
        style_requirements=style_note,
        checklist=frozenset(checklist_raw),
    )


@dataclass(frozen=True)
class Factor:
    question: str
    answer: str
    points_to: str  # rag, fine-tuning, hybrid, either, no-fine-tuning, lora, full-fine-tuning
    reason: str


@dataclass(frozen=True)
class DataSufficiency:
    level: str  # none, lora, full
    text: str


@dataclass
class Projection:
    approach: str
    monthly: CostBreakdown
    one_time: CostBreakdown
    months: int

    @property
    def tco(self) -> float:
        return self.one_time.total + self.months * self.monthly.total

    @property
    def tco_formula(self) -> str:
        return f"{usd(self.one_time.total)} one-time + {self.months} x {usd(self.monthly.total)}/month = {usd(self.tco)}"


@dataclass(frozen=True)
class CostAssumptions:
    llm: str | None = None
    embedding: str | None = None
    vector_db: str | None = None
    fine_tune: str | None = None  # None: chosen by data sufficiency
    rag_tokens_in: int = 1000  # the source's typical query: question + retrieved context
    tuned_tokens_in: int = 200  # no retrieved context: question + instructions
    tokens_out: int = 200
    embed_tokens: int = 100
    tokens_per_example: int = 500
    epochs: int = 3
    training_cycles: int = 4  # the checklist budgets 3-5 cycles before the first release
    refresh_retrains_per_month: float = 1 / 6  # retrain twice a year as base models improve
    months: int = 24

    def validate(self) -> None:
        for name in ("rag_tokens_in", "tuned_tokens_in", "tokens_out", "embed_tokens", "tokens_per_example", "epochs",
                     "training_cycles", "months"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0 or (name == "months" and value < 1):
                raise InputError(f"{name.replace('_', ' ')}: {value} must be a whole number >= {1 if name == 'months' else 0}")
        if not 0 <= self.refresh_retrains_per_month <= MAX_RETRAINS_PER_MONTH:
            raise InputError(f"refresh retrains per month: {self.refresh_retrains_per_month} is out of range")


@dataclass
class DecisionResult:
    inputs: DecisionInputs
    recommendation: str
    summary: str
    factors: list[Factor]
    warnings: list[str]
    data_sufficiency: DataSufficiency
    checklist: dict[str, bool]
    projections: dict[str, Projection]
    assumptions: CostAssumptions
    fine_tune_option: str
    sources: list[dict]

    @property
    def approach(self) -> str:
        return {"rag-default": "rag"}.get(self.recommendation, self.recommendation)

    @property
    def reasons(self) -> list[str]:
        return [f.reason for f in self.factors] + [self.summary] + self.warnings

    @property
    def checklist_score(self) -> int:
        return sum(self.checklist.values())

    def to_dict(self) -> dict:
        chosen = self.projections[self.approach]
        return {
            "recommendation": self.recommendation,
            "title": RECOMMENDATION_TITLES[self.recommendation],
            "summary": self.summary,
            "reasons": self.reasons,
            "factors": [f.__dict__ for f in self.factors],
            "warnings": self.warnings,
            "data_sufficiency": self.data_sufficiency.__dict__,
            "checklist": {"score": self.checklist_score, "of": len(self.checklist), "items": self.checklist},
            "monthly_cost": round(chosen.monthly.total, 2),
            "one_time_cost": round(chosen.one_time.total, 2),
            "tco": round(chosen.tco, 2),
            "costs": {k: round(v, 2) for k, v in chosen.monthly.as_dict().items()},
            "projections": {
                name: {
                    "monthly": round(p.monthly.total, 2), "one_time": round(p.one_time.total, 2),
                    f"tco_{p.months}_months": round(p.tco, 2),
                    "monthly_costs": {k: round(v, 2) for k, v in p.monthly.as_dict().items()},
                    "one_time_costs": {k: round(v, 2) for k, v in p.one_time.as_dict().items()},
                    "formulas": [f"{line.name}: {line.formula}" for line in p.monthly.lines + p.one_time.lines]
                    + [f"{p.months}-month TCO: {p.tco_formula}"],
                }
                for name, p in self.projections.items()
            },
            "fine_tune_option": self.fine_tune_option,
            "sources": self.sources,
        }


def data_sufficiency(examples: int) -> DataSufficiency:
    if examples < MIN_EXAMPLES_LORA:
        return DataSufficiency("none", f"{examples:,} examples: under {MIN_EXAMPLES_LORA}, do not fine-tune; use RAG with few-shot examples.")
    if examples <= FULL_FINE_TUNE_ABOVE:
        extra = "" if examples >= RELIABLE_EXAMPLES else f" (below {RELIABLE_EXAMPLES}, expect less reliable results)"
        return DataSufficiency("lora", f"{examples:,} examples: enough for LoRA / QLoRA{extra}.")
    return DataSufficiency("full", f"{examples:,} examples: over {FULL_FINE_TUNE_ABOVE:,}, full fine-tuning is possible.")


def _factors(inputs: DecisionInputs) -> list[Factor]:
    freq = inputs.knowledge_changes
    if freq.changes_often:
        changes = Factor("How often does the knowledge change?", freq.label, "rag",
                         f"Knowledge changes {freq.label}: a re-index picks each change up, while a fine-tuned model "
                         f"would need retraining about {min(freq.changes_per_month, MAX_RETRAINS_PER_MONTH):.1f} times a month.")
    else:
        changes = Factor("How often does the knowledge change?", freq.label, "either",
                         f"Knowledge changes {freq.label} (stable 6+ months): it could be trained in, so this does not decide.")
    if inputs.needs_citations:
        cites = Factor("Are citations or an audit trail required?", "yes", "rag",
                       "Citations are required: RAG points every answer at the passage it came from; a fine-tuned model cannot.")
    else:
        cites = Factor("Are citations or an audit trail required?", "no", "either", "No citations needed: this does not decide.")
    task_reasons = {
        "knowledge": ("rag", "The task is about knowledge (answering from documents): knowledge is retrieved."),
        "behaviour": ("fine-tuning", "The task is about behaviour (voice, strict format): behaviour is trained."),
        "both": ("hybrid", "The task needs knowledge and behaviour: retrieve the knowledge, train the behaviour."),
        "unsure": ("either", "The task focus is open: no signal either way."),
    }
    points, reason = task_reasons[inputs.task]
    task = Factor("Is the task about knowledge or behaviour?", inputs.task + inputs.task_note, points,
                  reason.replace(":", inputs.task_note + ":", 1) if inputs.task_note else reason)
    suff = data_sufficiency(inputs.training_examples)
    examples = Factor("How many training examples exist?", f"{inputs.training_examples:,}",
                      {"none": "no-fine-tuning", "lora": "lora", "full": "full-fine-tuning"}[suff.level], suff.text)
    if inputs.latency_ms < STRICT_LATENCY_MS:
        latency = Factor("What latency is required?", f"{inputs.latency_ms:,.0f} ms", "fine-tuning",
                         f"{inputs.latency_ms:,.0f} ms is under {STRICT_LATENCY_MS} ms: no room for a retrieval hop "
                         "(embed + search take 30-100 ms); a fine-tuned model answers without one.")
    else:
        latency = Factor("What latency is required?", f"{inputs.latency_ms / 1000:,.2f} s", "rag",
                         f"{inputs.latency_ms / 1000:,.2f} s leaves room for retrieval (embed 8-50 ms, search 10-50 ms) "
                         "before generation: RAG is fine.")
    return [changes, cites, task, examples, latency]


def _recommend(inputs: DecisionInputs) -> tuple[str, str, list[str]]:
    ft_possible = inputs.training_examples >= MIN_EXAMPLES_LORA
    behaviour = inputs.task in ("behaviour", "both")
    rag_needed = inputs.knowledge_changes.changes_often or inputs.needs_citations
    strict = inputs.latency_ms < STRICT_LATENCY_MS
    warnings = []
    if behaviour and not ft_possible:
        rec, why = "rag", ("Behaviour matters, but under 100 examples a fine-tune would overfit: RAG with few-shot "
                           "examples of the wanted style in the prompt; collect examples for a later LoRA.")
    elif behaviour and (rag_needed or inputs.task == "both"):
        rec, why = "hybrid", ("Knowledge is retrieved and behaviour is trained: RAG keeps facts current and citable, "
                              "a LoRA adapter carries the style.")
    elif behaviour:
        rec, why = "fine-tuning", ("Behaviour is the goal, the knowledge is stable and uncited, and there are enough "
                                   "examples: fine-tune with LoRA.")
    elif strict and ft_possible and not rag_needed:
        rec, why = "fine-tuning", ("Under 100 ms with stable, uncited knowledge: train it in and drop the retrieval hop.")
    elif inputs.task == "knowledge" or rag_needed:
        rec, why = "rag", "The knowledge has to be retrieved (it changes, must be cited, or is the task itself): RAG."
    else:
        rec, why = "rag-default", ("No factor decides: start with RAG, which is cheaper to build and change, and shows "
                                   "whether fine-tuning is needed at all.")
    if strict and rec in ("rag", "hybrid", "rag-default"):
        warnings.append(f"The {inputs.latency_ms:,.0f} ms target leaves little room for retrieval: keep it in-process "
                        "(local embedder, FAISS), cache answers, and measure before committing.")
    return rec, why, warnings


def _training_run(option: FineTuneOption, inputs: DecisionInputs, a: CostAssumptions) -> tuple[float, str]:
    tokens = inputs.training_examples * a.tokens_per_example * a.epochs
    cost = option.fixed_training_usd + tokens * option.training_per_m_tokens / MILLION
    return cost, (f"{usd(option.fixed_training_usd)} + {inputs.training_examples:,} examples x {a.tokens_per_example:,} "
                  f"tokens x {a.epochs} epochs x ${option.training_per_m_tokens:,.2f}/1M = {usd(cost)} per run")


def _project_lines(catalog: Catalog, approach: str, kind: str, retrains_per_month: float = 0.0) -> list[CostLine]:
    """The catalog's people and tooling costs that count for an approach, of one kind."""
    flag = approach.replace("-", "_")
    lines = []
    for item in catalog.project_costs:
        if item.kind != kind or not getattr(item, flag):
            continue
        if kind == "per_retrain":
            amount = item.usd * retrains_per_month
            formula = f"{usd(item.usd)} per retrain x {retrains_per_month:,.2f} retrains/month = {usd(amount)}"
        else:
            amount = item.usd
            formula = f"{usd(item.usd)} {'a month' if kind == 'monthly' else 'once'} (pricing catalog)"
        lines.append(CostLine(item.name, amount, formula))
    return lines


def pick_fine_tune(catalog: Catalog, examples: int, name: str | None = None, method: str | None = None) -> FineTuneOption:
    if name:
        return catalog.find("fine_tuning", name)
    wanted = method or ("full" if examples > FULL_FINE_TUNE_ABOVE else "lora")
    return next((o for o in catalog.fine_tuning if o.method == wanted), catalog.fine_tuning[0])


def project_costs(inputs: DecisionInputs, catalog: Catalog, a: CostAssumptions) -> tuple[dict[str, Projection], str]:
    """Monthly, one-time and TCO for RAG, a fine-tuned model, and the hybrid, every line with its formula."""
    a.validate()
    q = inputs.monthly_queries
    llm = catalog.find("llm_apis", a.llm)
    embedding = catalog.find("embedding_apis", a.embedding)
    vector_db = catalog.find("vector_dbs", a.vector_db)
    tuned = pick_fine_tune(catalog, inputs.training_examples, a.fine_tune)
    adapter = pick_fine_tune(catalog, inputs.training_examples, a.fine_tune, method="lora")
    embed = q * a.embed_tokens * embedding.per_m / MILLION
    embed_line = CostLine("query embeddings", embed,
                          f"{q:,} queries x {a.embed_tokens:,} tokens x ${embedding.per_m:,.2f}/1M = {usd(embed)}")
    db_line = CostLine("vector database", vector_db.monthly_usd, f"{vector_db.name}: {usd(vector_db.monthly_usd)}/month")

    rag_monthly = CostBreakdown(llm_token_lines(q, a.rag_tokens_in, a.tokens_out, llm.input_per_m, llm.output_per_m)
                                + [embed_line, db_line] + _project_lines(catalog, "rag", "monthly"))
    rag_once = CostBreakdown(_project_lines(catalog, "rag", "one_time"))

    projections = {"rag": Projection("rag", rag_monthly, rag_once, a.months)}
    knowledge_retrains = min(inputs.knowledge_changes.changes_per_month, MAX_RETRAINS_PER_MONTH)
    for approach, option, tokens_in, retrains in (
        ("fine-tuning", tuned, a.tuned_tokens_in, max(knowledge_retrains, a.refresh_retrains_per_month)),
        # The hybrid keeps knowledge in the index: its adapter is retrained only to follow base-model upgrades.
        ("hybrid", adapter, a.rag_tokens_in, a.refresh_retrains_per_month),
    ):
        run_cost, run_formula = _training_run(option, inputs, a)
        monthly = CostBreakdown(llm_token_lines(q, tokens_in, a.tokens_out, option.inference_input_per_m,
                                                option.inference_output_per_m, label="tuned model"))
        if approach == "hybrid":
            monthly.lines += [embed_line, db_line]
        monthly.add("model hosting", option.hosting_monthly_usd, f"{option.name}: {usd(option.hosting_monthly_usd)}/month")
        monthly.add("retraining compute", retrains * run_cost, f"{retrains:,.2f} retrains/month x ({run_formula})")
        monthly.lines += _project_lines(catalog, approach, "per_retrain", retrains)
        monthly.lines += _project_lines(catalog, approach, "monthly")
        once = CostBreakdown([CostLine("training runs", a.training_cycles * run_cost,
                                       f"{a.training_cycles} cycles x ({run_formula})")])
        once.lines += _project_lines(catalog, approach, "one_time")
        projections[approach] = Projection(approach, monthly, once, a.months)
    return projections, tuned.name


def checklist_answers(inputs: DecisionInputs) -> dict[str, bool]:
    derived = {
        "examples_100": inputs.training_examples >= MIN_EXAMPLES_LORA,
        "knowledge_static": not inputs.knowledge_changes.changes_often,
        "behaviour_change": inputs.task in ("behaviour", "both"),
        "latency_critical": inputs.latency_ms < STRICT_LATENCY_MS,
    }
    return {key: derived.get(key, key in inputs.checklist) for key in CHECKLIST}


def decide(inputs: DecisionInputs, catalog: Catalog, assumptions: CostAssumptions | None = None) -> DecisionResult:
    assumptions = assumptions or CostAssumptions()
    rec, why, warnings = _recommend(inputs)
    checklist = checklist_answers(inputs)
    if rec in ("fine-tuning", "hybrid"):
        missing = [CHECKLIST[k] for k, ok in checklist.items() if not ok and k not in ("knowledge_static", "latency_critical")]
        if missing:
            warnings.append(f"Fine-tuning checklist {sum(checklist.values())}/{len(checklist)}; still open: "
                            + "; ".join(missing) + ".")
    projections, option = project_costs(inputs, catalog, assumptions)
    return DecisionResult(inputs, rec, why, _factors(inputs), warnings, data_sufficiency(inputs.training_examples),
                          checklist, projections, assumptions, option, _sources(catalog, assumptions, inputs))


def _sources(catalog: Catalog, a: CostAssumptions, inputs: DecisionInputs) -> list[dict]:
    """The catalog rows the projections priced, with where each figure came from."""
    rows = [catalog.find("llm_apis", a.llm), catalog.find("embedding_apis", a.embedding),
            catalog.find("vector_dbs", a.vector_db), pick_fine_tune(catalog, inputs.training_examples, a.fine_tune),
            pick_fine_tune(catalog, inputs.training_examples, a.fine_tune, method="lora"), *catalog.project_costs]
    unique = {row.name: row for row in rows}
    return [{"name": r.name, "source": r.source, "date": r.date.isoformat()} for r in unique.values()]


def analyze(raw: Mapping[str, Any], catalog: Catalog, assumptions: CostAssumptions | None = None) -> DecisionResult:
    """Parse the answers and decide: the one entry point the CLI and the wizard share."""
    return decide(parse_decision_inputs(raw), catalog, assumptions)


def cumulative_costs(projections: dict[str, Projection]) -> list[dict]:
    """Month-by-month cumulative spend per approach (month 0 = the one-time costs), for the TCO chart."""
    rows = []
    for name, p in projections.items():
        for month in range(p.months + 1):
            rows.append({"approach": APPROACH_TITLES[name], "month": month,
                         "cumulative_usd": p.one_time.total + month * p.monthly.total})
    return rows
