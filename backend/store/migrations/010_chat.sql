-- Chat: conversations and their messages, feedback, the answer cache and its hit/miss events.
-- Every text column here holds redacted text only (questions and answers pass backend/pii.py first).
CREATE SEQUENCE IF NOT EXISTS message_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS feedback_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS cache_entry_id_seq START 1;

CREATE TABLE conversations (
    id              VARCHAR PRIMARY KEY,          -- uuid4 hex
    collection      VARCHAR NOT NULL,
    tenant          VARCHAR NOT NULL DEFAULT 'default',
    title           VARCHAR NOT NULL DEFAULT '',  -- the first question, redacted and shortened
    summary         VARCHAR NOT NULL DEFAULT '',  -- summary of the turns before summarized_turns
    summarized_turns INTEGER NOT NULL DEFAULT 0,  -- turns folded into the summary
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX conversations_collection ON conversations (collection, tenant);

CREATE TABLE messages (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('message_id_seq'),
    conversation_id     VARCHAR NOT NULL,
    turn                INTEGER NOT NULL,         -- 1-based; a user message and its answer share a turn
    role                VARCHAR NOT NULL,         -- user | assistant
    content             VARCHAR NOT NULL,         -- redacted
    standalone_question VARCHAR,                  -- user: the follow-up rewritten to stand alone (redacted)
    answer              JSON,                     -- assistant: citations, grounded, timings, tokens, cost, notices
    tokens              INTEGER NOT NULL DEFAULT 0,
    trace_id            VARCHAR,
    created_at          TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX messages_conversation ON messages (conversation_id, turn);

CREATE TABLE feedback (
    id              BIGINT PRIMARY KEY DEFAULT nextval('feedback_id_seq'),
    message_id      BIGINT NOT NULL,              -- the assistant message rated
    conversation_id VARCHAR NOT NULL,
    collection      VARCHAR NOT NULL,
    trace_id        VARCHAR,
    score           INTEGER NOT NULL,             -- 1 thumbs up, 0 thumbs down
    comment         VARCHAR NOT NULL DEFAULT '',  -- redacted
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX feedback_message ON feedback (message_id);

CREATE TABLE cache_entries (
    id              BIGINT PRIMARY KEY DEFAULT nextval('cache_entry_id_seq'),
    collection      VARCHAR NOT NULL,
    tenant          VARCHAR NOT NULL,
    index_version   BIGINT NOT NULL,              -- the collection's index_version the answer was built on
    config_key      VARCHAR NOT NULL,             -- hash of generator, retrieval mode, k and other answer-shaping settings
    question        VARCHAR NOT NULL,             -- normalised standalone question (redacted)
    question_hash   VARCHAR NOT NULL,             -- sha256 of question
    embedding       FLOAT[],                      -- normalised query embedding, for the semantic lookup
    answer          JSON NOT NULL,
    tokens_in       INTEGER NOT NULL DEFAULT 0,
    tokens_out      INTEGER NOT NULL DEFAULT 0,
    cost_usd        DOUBLE NOT NULL DEFAULT 0,
    latency_ms      DOUBLE NOT NULL DEFAULT 0,
    hits            INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    last_hit_at     TIMESTAMP
);
CREATE INDEX cache_entries_key ON cache_entries (collection, tenant, index_version, config_key);
CREATE INDEX cache_entries_hash ON cache_entries (question_hash);

CREATE TABLE cache_events (
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    collection      VARCHAR NOT NULL,
    tenant          VARCHAR NOT NULL,
    outcome         VARCHAR NOT NULL,             -- exact_hit | semantic_hit | miss
    entry_id        BIGINT,
    similarity      DOUBLE,
    tokens_saved    INTEGER NOT NULL DEFAULT 0,
    cost_saved_usd  DOUBLE NOT NULL DEFAULT 0,
    latency_saved_ms DOUBLE NOT NULL DEFAULT 0,
    trace_id        VARCHAR
);
CREATE INDEX cache_events_time ON cache_events (created_at);
