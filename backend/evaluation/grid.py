"""Experiment files: a YAML grid over RAG settings, validated field by field and expanded into distinct runs."""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from backend.models import InputError
from backend.settings import PROJECT_ROOT, Settings

EXAMPLES_DIR = PROJECT_ROOT / "data" / "eval"

# The settings an experiment may vary, with the short name used in run labels.
GRID_FIELDS = {
    "retrieval_mode": "",
    "top_k": "k=",
    "candidate_k": "cand=",
    "fusion": "",
    "rrf_k": "rrf_k=",
    "dense_weight": "w_dense=",
    "chunk_tokens": "chunk=",
    "chunk_overlap": "overlap=",
    "reranker": "rerank=",
    "mmr_lambda": "mmr_l=",
    "compress_context": "compress=",
    "context_token_budget": "budget=",
    "generator": "gen=",
    "answer_threshold": "thr=",
    "max_answer_sentences": "sent=",
}
# Bounds Settings itself does not enforce but a run needs (inclusive).
RANGES = {
    "top_k": (1, 100), "candidate_k": (1, 10_000), "rrf_k": (1, 10_000), "dense_weight": (0.0, 1.0),
    "mmr_lambda": (0.0, 1.0), "context_token_budget": (50, 100_000), "answer_threshold": (0.0, 1.0),
    "max_answer_sentences": (1, 50),
}
TOP_LEVEL = {"name", "description", "collection", "gold", "limit", "base", "grid", "min_answer_score", "retrieval_only"}
MAX_RUNS = 200


@dataclass
class Experiment:
    name: str
    collection: str
    gold: str | None
    grid: dict[str, list]
    base: dict = field(default_factory=dict)
    limit: int | None = None  # first N questions of the gold set
    min_answer_score: float = 0.6  # similarity to the reference below which an answer counts as wrong
    retrieval_only: bool = False  # rank documents only (BEIR-style sets without reference answers): no generation
    description: str = ""
    source: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "collection": self.collection, "gold": self.gold, "grid": self.grid,
                "base": self.base, "limit": self.limit, "min_answer_score": self.min_answer_score,
                "retrieval_only": self.retrieval_only,
                "description": self.description}


@dataclass
class GridPoint:
    """One run of an experiment: the settings it overrides and the full Settings they give."""

    overrides: dict
    settings: Settings
    label: str

    @property
    def config(self) -> dict:
        """Every setting that shapes an answer (paths and secrets left out), for storage and the resume key."""
        dump = self.settings.model_dump(mode="json")
        return {name: dump[name] for name in sorted(dump) if name in _RECORDED}

    @property
    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()[:16]


# Settings recorded with a run: what the grid may vary plus what else changes answers.
_RECORDED = set(GRID_FIELDS) | {
    "embedding_model", "bm25_stemmer", "bm25_stopwords", "bm25_k1", "bm25_b", "citation_support_threshold",
    "openai_model", "vllm_model", "max_output_tokens", "llm_price_in_per_m", "llm_price_out_per_m",
    "cross_encoder_model",
}


def _field_error(where: str, exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    return InputError(f"{where}: {first['msg']}")


def _check_value(name: str, value, where: str):
    annotation = Settings.model_fields[name].annotation
    if isinstance(value, bool) and annotation is not bool:
        raise InputError(f"{where} = {value!r}: expected {getattr(annotation, '__name__', 'value')}, not true/false")
    try:
        value = TypeAdapter(annotation).validate_python(value, strict=annotation is bool)
    except ValidationError as exc:
        raise _field_error(f"{where} = {value!r}", exc) from None
    if name in RANGES:
        low, high = RANGES[name]
        if not low <= value <= high:
            raise InputError(f"{where} = {value!r}: must be between {low} and {high}")
    return value


def parse_experiment(data, source: str = "experiment") -> Experiment:
    """Validate a parsed YAML/JSON experiment; every error names the file and the field."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping with 'grid' (and optionally name, collection, gold, base, limit)")
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        raise InputError(f"{source}: unknown field '{unknown[0]}' (allowed: {', '.join(sorted(TOP_LEVEL))})")
    grid_raw = data.get("grid") or {}
    if not isinstance(grid_raw, dict):
        raise InputError(f"{source}: field 'grid' must map setting names to lists of values")
    grid: dict[str, list] = {}
    for name, values in grid_raw.items():
        if name not in GRID_FIELDS:
            raise InputError(f"{source}: grid.{name} is not a setting an experiment can vary (use {', '.join(GRID_FIELDS)})")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise InputError(f"{source}: grid.{name} is an empty list")
        checked = [_check_value(name, v, f"{source}: grid.{name}[{i}]") for i, v in enumerate(values)]
        grid[name] = list(dict.fromkeys(checked))  # repeated values would only repeat runs
    base_raw = data.get("base") or {}
    if not isinstance(base_raw, dict):
        raise InputError(f"{source}: field 'base' must map setting names to values")
    base = {}
    for name, value in base_raw.items():
        if name not in GRID_FIELDS:
            raise InputError(f"{source}: base.{name} is not a setting an experiment can set (use {', '.join(GRID_FIELDS)})")
        base[name] = _check_value(name, value, f"{source}: base.{name}")
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InputError(f"{source}: field 'limit' must be a positive integer, got {limit!r}")
    threshold = data.get("min_answer_score", 0.6)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
        raise InputError(f"{source}: field 'min_answer_score' must be a number between 0 and 1, got {threshold!r}")
    retrieval_only = data.get("retrieval_only", False)
    if not isinstance(retrieval_only, bool):
        raise InputError(f"{source}: field 'retrieval_only' must be true or false, got {retrieval_only!r}")
    for key in ("name", "collection", "gold", "description"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise InputError(f"{source}: field '{key}' must be a string")
    return Experiment(
        name=data.get("name") or Path(source).stem, collection=data.get("collection") or "", gold=data.get("gold"),
        grid=grid, base=base, limit=limit, min_answer_score=float(threshold), retrieval_only=retrieval_only,
        description=data.get("description") or "", source=source,
    )


def load_experiment(path: Path | str) -> Experiment:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: experiment file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    return parse_experiment(data, path.name)


def parse_experiment_text(text: str, source: str = "experiment.yaml") -> Experiment:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    return parse_experiment(data, source)


def _effective(overrides: dict, settings: Settings) -> dict:
    """Drop grid values that cannot change the run (fusion without hybrid, weights RRF ignores, ...)."""
    out = dict(overrides)
    if settings.retrieval_mode != "hybrid":
        for name in ("fusion", "rrf_k", "dense_weight"):
            out.pop(name, None)
    elif settings.fusion == "rrf":
        out.pop("dense_weight", None)
    else:
        out.pop("rrf_k", None)
    if settings.reranker != "mmr":
        out.pop("mmr_lambda", None)
    if settings.generator != "extractive":
        out.pop("answer_threshold", None)
        out.pop("max_answer_sentences", None)
    return out


def _label(overrides: dict, varied: list[str]) -> str:
    parts = []
    for name in GRID_FIELDS:
        if name in overrides and (name in varied or name == "retrieval_mode"):
            value = overrides[name]
            if isinstance(value, bool):
                value = "on" if value else "off"
            parts.append(f"{GRID_FIELDS[name]}{value}")
    return " ".join(parts) or "baseline"


def expand_grid(experiment: Experiment, settings: Settings) -> list[GridPoint]:
    """The distinct runs of the grid, each with validated Settings (cross-field rules like overlap < size)."""
    names = list(experiment.grid)
    combos = itertools.product(*(experiment.grid[n] for n in names)) if names else [()]
    varied = [n for n in names if len(experiment.grid[n]) > 1]
    points: list[GridPoint] = []
    seen: set[str] = set()
    for combo in combos:
        overrides = {**experiment.base, **dict(zip(names, combo))}
        merged = {**settings.model_dump(), **overrides}
        try:
            point_settings = Settings.model_validate(merged)
        except ValidationError as exc:
            described = ", ".join(f"{k}={v}" for k, v in overrides.items())
            raise _field_error(f"{experiment.source}: grid point ({described})", exc) from None
        effective = _effective(overrides, point_settings)
        key = json.dumps(effective, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        if len(points) >= MAX_RUNS:
            raise InputError(f"{experiment.source}: the grid expands to more than {MAX_RUNS} runs; split it into several experiments")
        points.append(GridPoint(overrides=effective, settings=point_settings, label=_label(effective, varied)))
    return points


def example_configs() -> dict[str, str]:
    """The shipped experiment files (data/eval/*.yaml) by file name, with their text."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(EXAMPLES_DIR.glob("*.yaml"))}
