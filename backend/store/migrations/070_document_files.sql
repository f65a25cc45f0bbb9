-- The original bytes of each PDF document version, written with the version at ingest and deleted with the
-- document, so a citation can show its page as an image even after an uploaded or temporary file is gone.
CREATE TABLE document_files (
    document_id INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    mime_type   VARCHAR NOT NULL,
    size_bytes  BIGINT NOT NULL,
    content     BLOB NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (document_id, version)
);
