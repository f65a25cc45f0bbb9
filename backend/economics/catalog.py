"""The pricing catalog: typed rows (each with source and date), validated on load, saved atomically with a .bak."""
from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal, overload

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.models import InputError

# Sane upper bounds: a figure past one is a typo or a wrong unit (per token, not per 1M), not a price.
PER_M_MAX = 1_000.0  # USD per 1M tokens (the dearest APIs charge a few hundred)
PER_1K_REQUESTS_MAX = 1_000.0
HOURLY_MAX = 1_000.0  # USD per GPU hour
MONTHLY_MAX = 10_000_000.0
ONE_OFF_MAX = 100_000_000.0
TOKENS_PER_S_MAX = 10_000_000.0
CONCURRENCY_MAX = 100_000
LATENCY_MS_MAX = 600_000.0


class CatalogRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, description="What the row prices; unique within its section.")
    source: str = Field(min_length=1, description="Where the figure comes from.")
    date: dt.date = Field(description="When the figure was read (YYYY-MM-DD).")


class LlmApi(CatalogRow):
    input_per_m: float = Field(ge=0, le=PER_M_MAX, description="USD per 1M input tokens.")
    output_per_m: float = Field(ge=0, le=PER_M_MAX, description="USD per 1M output tokens.")


class EmbeddingApi(CatalogRow):
    per_m: float = Field(ge=0, le=PER_M_MAX, description="USD per 1M embedded tokens.")


class VectorDb(CatalogRow):
    monthly_usd: float = Field(ge=0, le=MONTHLY_MAX, description="USD per month for the tier.")


class Gpu(CatalogRow):
    """A self-hosted GPU serving the generator with vLLM; throughput figures are for one replica."""

    hourly_usd: float = Field(gt=0, le=HOURLY_MAX, description="USD per GPU hour.")
    prefill_tokens_per_s: float = Field(gt=0, le=TOKENS_PER_S_MAX, description="Prompt tokens processed per second (whole GPU).")
    decode_tokens_per_s: float = Field(gt=0, le=TOKENS_PER_S_MAX, description="Output tokens generated per second across the full batch.")
    stream_decode_tokens_per_s: float = Field(gt=0, le=TOKENS_PER_S_MAX, description="Output tokens per second one request sees (sets decode latency).")
    max_concurrency: int = Field(gt=0, le=CONCURRENCY_MAX, description="Requests decoded at once at the stream speed above.")


class Reranker(CatalogRow):
    per_1k_requests_usd: float = Field(ge=0, le=PER_1K_REQUESTS_MAX, description="USD per 1,000 reranked requests (0 for local).")
    latency_ms_base: float = Field(ge=0, le=LATENCY_MS_MAX, description="Fixed latency per request, ms.")
    latency_ms_per_candidate: float = Field(ge=0, le=LATENCY_MS_MAX, description="Added latency per candidate scored, ms.")


class FineTuneOption(CatalogRow):
    method: Literal["lora", "full"] = Field(description="lora (adapter) or full fine-tuning.")
    training_per_m_tokens: float = Field(ge=0, le=PER_M_MAX, description="USD per 1M training tokens.")
    fixed_training_usd: float = Field(ge=0, le=ONE_OFF_MAX, description="USD per training run regardless of tokens.")
    inference_input_per_m: float = Field(ge=0, le=PER_M_MAX, description="USD per 1M input tokens on the tuned model.")
    inference_output_per_m: float = Field(ge=0, le=PER_M_MAX, description="USD per 1M output tokens on the tuned model.")
    hosting_monthly_usd: float = Field(ge=0, le=MONTHLY_MAX, description="USD per month to keep the tuned model or adapter served.")


class ProjectCost(CatalogRow):
    """People and tooling costs of building and running an approach."""

    kind: Literal["one_time", "monthly", "per_retrain"] = Field(description="one_time, monthly, or per retraining cycle.")
    usd: float = Field(ge=0, le=ONE_OFF_MAX, description="USD per occurrence.")
    rag: bool = Field(description="Counts for RAG.")
    fine_tuning: bool = Field(description="Counts for fine-tuning.")
    hybrid: bool = Field(description="Counts for the hybrid.")


SECTIONS: dict[str, type[CatalogRow]] = {
    "llm_apis": LlmApi,
    "embedding_apis": EmbeddingApi,
    "vector_dbs": VectorDb,
    "gpus": Gpu,
    "rerankers": Reranker,
    "fine_tuning": FineTuneOption,
    "project_costs": ProjectCost,
}
SECTION_TITLES = {
    "llm_apis": "LLM APIs", "embedding_apis": "Embedding APIs", "vector_dbs": "Vector databases",
    "gpus": "Self-hosted GPUs", "rerankers": "Rerankers", "fine_tuning": "Fine-tuning",
    "project_costs": "Project costs",
}


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    llm_apis: list[LlmApi] = Field(min_length=1)
    embedding_apis: list[EmbeddingApi] = Field(min_length=1)
    vector_dbs: list[VectorDb] = Field(min_length=1)
    gpus: list[Gpu] = Field(min_length=1)
    rerankers: list[Reranker] = Field(default_factory=list)
    fine_tuning: list[FineTuneOption] = Field(min_length=1)
    project_costs: list[ProjectCost] = Field(default_factory=list)

    @field_validator("*", mode="before")
    @classmethod
    def _section_is_list(cls, value):
        if value is None:
            return []
        return value

    @model_validator(mode="after")
    def _unique_names(self):
        for section in SECTIONS:
            seen: set[str] = set()
            for index, row in enumerate(getattr(self, section)):
                if row.name in seen:
                    raise ValueError(f"{section} row {index + 1}: name {row.name!r} appears twice")
                seen.add(row.name)
        return self

    # One overload per section, so a caller gets the row type of the section it names.
    @overload
    def find(self, section: Literal["llm_apis"], name: str | None) -> LlmApi: ...
    @overload
    def find(self, section: Literal["embedding_apis"], name: str | None) -> EmbeddingApi: ...
    @overload
    def find(self, section: Literal["vector_dbs"], name: str | None) -> VectorDb: ...
    @overload
    def find(self, section: Literal["gpus"], name: str | None) -> Gpu: ...
    @overload
    def find(self, section: Literal["rerankers"], name: str | None) -> Reranker: ...
    @overload
    def find(self, section: Literal["fine_tuning"], name: str | None) -> FineTuneOption: ...
    @overload
    def find(self, section: Literal["project_costs"], name: str | None) -> ProjectCost: ...
    @overload
    def find(self, section: str, name: str | None) -> CatalogRow: ...

    def find(self, section: str, name: str | None) -> CatalogRow:
        """A row by name; None gives the section's first row."""
        rows = getattr(self, section)
        if not rows:
            raise InputError(f"pricing catalog: section {section} has no rows")
        if name is None:
            return rows[0]
        for row in rows:
            if row.name == name:
                return row
        known = ", ".join(row.name for row in rows)
        raise InputError(f"{section}: no row named {name!r} (known: {known})")

    def names(self, section: str) -> list[str]:
        return [row.name for row in getattr(self, section)]


def _row_label(raw: dict, section: str, index: int) -> str:
    rows = raw.get(section) if isinstance(raw, dict) else None
    name = ""
    if isinstance(rows, list) and index < len(rows) and isinstance(rows[index], dict):
        name = rows[index].get("name") or ""
    return f"{section} row {index + 1}" + (f" ({name!r})" if name else "")


def _describe(exc: ValidationError, raw: dict, origin: str) -> str:
    """One line per problem: which row of which section, which field, what is wrong."""
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "less_than_equal":
            message = (f"{error['input']:,} is above the sane bound of {error['ctx']['le']:,}: check the unit "
                       "(per 1M tokens, per hour, per month)")
        if len(loc) >= 3 and isinstance(loc[1], int):
            problems.append(f"{_row_label(raw, str(loc[0]), loc[1])}: field {loc[2]}: {message}")
        elif len(loc) == 2 and isinstance(loc[1], int):
            problems.append(f"{_row_label(raw, str(loc[0]), loc[1])}: {message}")
        elif loc:
            problems.append(f"section {loc[0]}: {message}")
        else:
            problems.append(message)
    return f"pricing catalog {origin}: " + "; ".join(problems)


def validate_catalog(raw, origin: str = "(edited)") -> Catalog:
    """A Catalog from plain data, or InputError naming each bad row and field."""
    if raw is None or raw == {}:
        raise InputError(f"pricing catalog {origin} is empty")
    if not isinstance(raw, dict):
        raise InputError(f"pricing catalog {origin}: expected sections (llm_apis, gpus, ...) at the top, got {type(raw).__name__}")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_describe(exc, raw, origin)) from None


def load_catalog(path: Path | str) -> Catalog:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"pricing catalog {path} does not exist (set GROUNDWORK_PRICING_CATALOG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"pricing catalog {path} cannot be read: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise InputError(f"pricing catalog {path} is not valid YAML{where}: {problem}") from None
    return validate_catalog(raw, str(path))


def catalog_to_data(catalog: Catalog) -> dict:
    """Plain YAML-ready data: dates as ISO strings, sections in a fixed order."""
    return {section: [row.model_dump(mode="json") for row in getattr(catalog, section)] for section in SECTIONS}


def save_catalog(catalog: Catalog, path: Path | str) -> Path:
    """Write the catalog atomically; the file it replaces is kept as <name>.bak. Returns the backup path."""
    path = Path(path)
    catalog = validate_catalog(catalog_to_data(catalog), str(path))  # never write what would not load
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = path.with_name(path.name + ".bak")
    text = "# Groundwork pricing catalog: every row carries its source and the date it was read.\n"
    text += yaml.safe_dump(catalog_to_data(catalog), sort_keys=False, allow_unicode=True, width=120)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            # copy then rename, so a crash leaves either the old .bak or the new one, never half of one
            fd_bak, bak_tmp = tempfile.mkstemp(prefix=f".{backup.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd_bak)
            shutil.copy2(path, bak_tmp)
            os.replace(bak_tmp, backup)
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return backup


def restore_backup(path: Path | str) -> Catalog:
    """Put the .bak back in place (after validating it); the file it replaces is kept as <name>.broken."""
    path = Path(path)
    backup = path.with_name(path.name + ".bak")
    previous = load_catalog(backup)
    if path.exists():
        os.replace(path, path.with_name(path.name + ".broken"))
    save_catalog(previous, path)
    return previous


def _cell(value):
    """Editor cells come back as NaN/None/numpy scalars; give pydantic plain values (missing -> absent)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str) and not value.strip():
        return None
    return value


def rows_from_records(records: list[dict]) -> list[dict]:
    """Editor records to catalog rows: empty cells dropped (so pydantic reports them missing), blank rows skipped."""
    rows = []
    for record in records:
        row = {key: _cell(value) for key, value in record.items()}
        row = {key: value for key, value in row.items() if value is not None}
        if row:
            rows.append(row)
    return rows


def catalog_from_sections(sections: dict[str, list[dict]], base: Catalog | None = None) -> Catalog:
    """A validated Catalog from edited sections (lists of records); sections not given come from base."""
    data = catalog_to_data(base) if base is not None else {}
    for section, records in sections.items():
        if section not in SECTIONS:
            raise InputError(f"pricing catalog: unknown section {section!r}")
        data[section] = rows_from_records(records)
    return validate_catalog(data)
