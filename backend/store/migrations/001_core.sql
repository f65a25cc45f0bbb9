-- Core corpus tables: collections, documents and their versions, chunks, ingestion runs.
CREATE SEQUENCE IF NOT EXISTS collection_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS document_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS chunk_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS ingest_run_id_seq START 1;

CREATE TABLE collections (
    id          INTEGER PRIMARY KEY DEFAULT nextval('collection_id_seq'),
    name        VARCHAR NOT NULL UNIQUE,
    tenant      VARCHAR NOT NULL DEFAULT 'default',
    description VARCHAR DEFAULT '',
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    -- model id, dimension and chunk settings that built this collection's index (JSON)
    index_settings JSON,
    -- bumped on every change to the collection's chunks; cache entries are keyed by it
    index_version BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE documents (
    id              INTEGER PRIMARY KEY DEFAULT nextval('document_id_seq'),
    collection_id   INTEGER NOT NULL,
    source          VARCHAR NOT NULL,           -- path or URI it was loaded from
    title           VARCHAR NOT NULL,
    mime_type       VARCHAR NOT NULL,
    content_hash    VARCHAR NOT NULL,           -- sha256 of the cleaned text of the current version
    version         INTEGER NOT NULL DEFAULT 1, -- current version
    status          VARCHAR NOT NULL DEFAULT 'active',  -- active | deleted
    size_bytes      BIGINT,
    metadata        JSON,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX documents_collection ON documents (collection_id);
CREATE INDEX documents_hash ON documents (content_hash);

-- every version ever ingested, with its text, so old versions stay recorded and can be diffed
CREATE TABLE document_versions (
    document_id   INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    content_hash  VARCHAR NOT NULL,
    text          VARCHAR NOT NULL,
    sections      JSON,
    minhash       BLOB,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (document_id, version)
);

CREATE TABLE chunks (
    id            BIGINT PRIMARY KEY DEFAULT nextval('chunk_id_seq'),  -- also the FAISS id
    document_id   INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    collection_id INTEGER NOT NULL,
    tenant        VARCHAR NOT NULL,
    ordinal       INTEGER NOT NULL,
    text          VARCHAR NOT NULL,
    token_count   INTEGER NOT NULL,
    char_start    INTEGER NOT NULL,
    char_end      INTEGER NOT NULL,
    page          INTEGER,
    heading_path  VARCHAR[],
    embedding     FLOAT[],                      -- kept so FAISS can be repaired without re-embedding
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX chunks_document ON chunks (document_id);
CREATE INDEX chunks_collection ON chunks (collection_id);

CREATE TABLE ingest_runs (
    id            INTEGER PRIMARY KEY DEFAULT nextval('ingest_run_id_seq'),
    collection_id INTEGER,
    started_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL DEFAULT 'running',  -- running | finished | interrupted
    files_total   INTEGER DEFAULT 0,
    files_ok      INTEGER DEFAULT 0,
    files_skipped INTEGER DEFAULT 0,
    files_failed  INTEGER DEFAULT 0,
    chunks_added  BIGINT DEFAULT 0,
    label         VARCHAR DEFAULT ''   -- what was ingested: the paths given, or e.g. `beir:scifact`
);

CREATE TABLE ingest_files (
    run_id            INTEGER NOT NULL,
    path              VARCHAR NOT NULL,
    outcome           VARCHAR NOT NULL,  -- ingested | updated | unchanged | duplicate | near-duplicate | failed
    document_id       INTEGER,
    chunks            INTEGER DEFAULT 0,
    message           VARCHAR DEFAULT '',
    near_duplicate_of INTEGER,
    similarity        DOUBLE,
    duration_ms       DOUBLE,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE audit_log (
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,  -- `at` is a reserved word in DuckDB 2.0
    actor     VARCHAR NOT NULL DEFAULT 'system',
    action    VARCHAR NOT NULL,
    target    VARCHAR,
    details   JSON
);
