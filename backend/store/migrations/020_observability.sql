-- Observability: one row per request (trace), one per stage (span), daily rollups that outlive
-- retention, and query embeddings cached for drift (computed from the redacted question).
-- No primary keys or indexes: rows are appended in batches by the span exporter and deleted in bulk by
-- retention; DuckDB's zone maps on start_time serve the time-range scans.
CREATE TABLE traces (
    trace_id     VARCHAR NOT NULL,            -- OpenTelemetry trace id, 32 hex chars
    root_span_id VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,            -- e.g. rag.ask
    start_time   TIMESTAMP NOT NULL,          -- UTC
    duration_ms  DOUBLE NOT NULL,
    status       VARCHAR NOT NULL,            -- ok | error
    collection   VARCHAR,
    tenant       VARCHAR,
    question     VARCHAR,                     -- already redacted by the hot path
    answer       VARCHAR,                     -- redacted
    model        VARCHAR,
    tokens_in    BIGINT,
    tokens_out   BIGINT,
    cost_usd     DOUBLE,
    cache_hit    BOOLEAN,
    grounded     BOOLEAN,
    no_answer    BOOLEAN,
    fallback     BOOLEAN,
    timeout      BOOLEAN,
    top_score    DOUBLE,                      -- relevance of the best retrieved chunk
    mean_score   DOUBLE,                      -- mean relevance of the retrieved chunks
    pii_hits     INTEGER,                     -- PII findings redacted from the question
    error        VARCHAR,
    attributes   JSON                         -- every root attribute, short names
);

CREATE TABLE spans (
    trace_id       VARCHAR NOT NULL,
    span_id        VARCHAR NOT NULL,          -- 16 hex chars
    parent_span_id VARCHAR,                   -- NULL for the root
    name           VARCHAR NOT NULL,          -- stage: redact, bm25, dense, generate, ...
    kind           VARCHAR,                   -- openinference.span.kind: CHAIN, RETRIEVER, LLM, ...
    start_time     TIMESTAMP NOT NULL,        -- UTC
    duration_ms    DOUBLE NOT NULL,
    status         VARCHAR NOT NULL,          -- ok | error
    status_message VARCHAR,
    attributes     JSON                       -- short names (tokens_in, k, cache_hit, documents, ...)
);

-- what retention keeps of a day once its traces are deleted
CREATE TABLE trace_daily (
    day            DATE NOT NULL,
    collection     VARCHAR NOT NULL,
    requests       BIGINT NOT NULL,
    errors         BIGINT NOT NULL,
    timeouts       BIGINT NOT NULL,
    fallbacks      BIGINT NOT NULL,
    cache_hits     BIGINT NOT NULL,
    no_answers     BIGINT NOT NULL,
    duration_ms_sum DOUBLE NOT NULL,
    p50_ms         DOUBLE,
    p95_ms         DOUBLE,
    p99_ms         DOUBLE,
    tokens_in_sum  BIGINT NOT NULL,
    tokens_out_sum BIGINT NOT NULL,
    cost_usd_sum   DOUBLE NOT NULL,
    PRIMARY KEY (day, collection)
);

CREATE TABLE span_daily (
    day             DATE NOT NULL,
    collection      VARCHAR NOT NULL,
    stage           VARCHAR NOT NULL,
    count           BIGINT NOT NULL,
    errors          BIGINT NOT NULL,
    duration_ms_sum DOUBLE NOT NULL,
    p50_ms          DOUBLE,
    p95_ms          DOUBLE,
    p99_ms          DOUBLE,
    PRIMARY KEY (day, collection, stage)
);

-- drift: the question's embedding, computed once per trace from the redacted text with the platform embedder
CREATE TABLE trace_embeddings (
    trace_id  VARCHAR NOT NULL,
    model     VARCHAR NOT NULL,
    embedding FLOAT[] NOT NULL
);
