-- Evaluation: gold sets (snapshotted, so a run can always be traced back to the exact questions),
-- experiments (a YAML grid), runs (one per grid point) and per-question results written as they go.
CREATE SEQUENCE IF NOT EXISTS eval_experiment_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS eval_run_id_seq START 1;

CREATE TABLE eval_gold_sets (
    name          VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,            -- demo | beir | upload | traffic | synthetic
    collection    VARCHAR NOT NULL,            -- the collection its document ids refer to
    origin        VARCHAR,                     -- file path, BEIR dir + split, or how it was sampled
    content_hash  VARCHAR NOT NULL,            -- sha256 over the items; runs record it
    n_items       INTEGER NOT NULL,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE eval_gold_items (
    gold_set         VARCHAR NOT NULL,
    item_id          VARCHAR NOT NULL,
    ordinal          INTEGER NOT NULL,
    question         VARCHAR NOT NULL,
    reference_answer VARCHAR,
    relevant         JSON,                     -- {document key: relevance grade}
    evidence         JSON,                     -- reference contexts (verbatim quotes)
    answerable       BOOLEAN NOT NULL DEFAULT TRUE,
    tags             JSON,
    PRIMARY KEY (gold_set, item_id)
);

CREATE TABLE eval_experiments (
    id          INTEGER PRIMARY KEY DEFAULT nextval('eval_experiment_id_seq'),
    name        VARCHAR NOT NULL,
    gold_set    VARCHAR NOT NULL,
    config      JSON NOT NULL,                 -- the experiment file as parsed
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE eval_runs (
    id              INTEGER PRIMARY KEY DEFAULT nextval('eval_run_id_seq'),
    experiment_id   INTEGER,
    label           VARCHAR NOT NULL,          -- the grid point in a few words
    gold_set        VARCHAR NOT NULL,
    gold_hash       VARCHAR NOT NULL,
    base_collection VARCHAR NOT NULL,          -- the collection named by the experiment
    collection      VARCHAR NOT NULL,          -- the one queried (a scratch copy for other chunk settings)
    config          JSON NOT NULL,             -- every setting the grid point ran with
    config_hash     VARCHAR NOT NULL,          -- resume key, with gold_hash, code and index version
    code_version    VARCHAR NOT NULL,
    index_version   BIGINT,
    status          VARCHAR NOT NULL DEFAULT 'running',  -- running | finished | failed
    n_questions     INTEGER NOT NULL,
    summary         JSON,                      -- only set when finished
    error           VARCHAR,
    started_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at     TIMESTAMP
);

CREATE TABLE eval_results (
    run_id            INTEGER NOT NULL,
    item_id           VARCHAR NOT NULL,
    ordinal           INTEGER NOT NULL,
    question          VARCHAR NOT NULL,
    answer            VARCHAR,
    reference_answer  VARCHAR,
    retrieved         JSON,                    -- [{rank, chunk_id, document, title, score, gold, in_context, text}]
    gold_rank         INTEGER,                 -- best rank of a gold document, NULL when never retrieved
    metrics           JSON NOT NULL,           -- {metric: value or null}
    latency_ms        DOUBLE,
    tokens_in         BIGINT,
    tokens_out        BIGINT,
    cost_usd          DOUBLE,
    failure_class     VARCHAR,                 -- ok | retrieval_miss | ranking_miss | generation_failure | error
    failure_reason    VARCHAR,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, item_id)
);
