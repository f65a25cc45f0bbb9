-- Personal data found in each document's current version at ingest (issue 19): where and of which type, never the
-- value: a salted HMAC-SHA256 of its normalised form, so a later search by value works without keeping it.
-- Written in the transaction that writes the version's chunks, replaced by the next version, deleted with the document.
CREATE TABLE document_pii (
    document_id INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    chunk_id    BIGINT,                 -- the first chunk holding the finding's start (NULL: between chunks)
    entity_type VARCHAR NOT NULL,
    char_start  INTEGER NOT NULL,       -- offsets in the stored text of that version
    char_end    INTEGER NOT NULL,
    page        INTEGER,
    score       DOUBLE NOT NULL,
    value_hash  VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX document_pii_document ON document_pii (document_id);
CREATE INDEX document_pii_value ON document_pii (value_hash);

-- One row per analysed version, findings or none, so the backfill (pii-scan) knows what is still to analyse.
CREATE TABLE document_pii_scans (
    document_id INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    findings    INTEGER NOT NULL,
    redacted    BOOLEAN NOT NULL,       -- the version's text was stored redacted
    scanned_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (document_id, version)
);

-- Per collection: 'flag' records findings and stores the text as is, 'redact' records them and stores the text
-- (and CSV originals) redacted, keeping no PDF or XLSX original. NULL for collections made before this migration:
-- they keep following GROUNDWORK_REDACT_AT_INGEST, as they did; collections made since take it as their value.
ALTER TABLE collections ADD COLUMN pii_at_ingest VARCHAR;
ALTER TABLE collections ALTER COLUMN pii_at_ingest SET DEFAULT 'flag';

-- Originals kept of documents stored redacted (GROUNDWORK_REDACT_AT_INGEST before this migration) still held the
-- personal data their text had lost: a collection that redacts keeps none (CSV originals are kept redacted from now).
DELETE FROM document_files WHERE document_id IN (SELECT id FROM documents WHERE (metadata->>'$.redacted') = 'true');
