-- Gateway: tenants, users, groups and their collection grants, API keys, sessions, sign-in attempts,
-- quotas and usage. No secret is stored in clear: passwords as argon2 hashes, API keys and session
-- tokens as sha256 of the random secret. Times are naive UTC, written by the gateway (not current_timestamp),
-- so expiry and throttling windows are computed against one clock. Audit rows go to audit_log (001_core.sql).
CREATE SEQUENCE IF NOT EXISTS user_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS group_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS api_key_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS sign_in_attempt_id_seq START 1;

CREATE TABLE tenants (
    name        VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY DEFAULT nextval('user_id_seq'),
    name          VARCHAR NOT NULL UNIQUE,
    tenant        VARCHAR NOT NULL,
    role          VARCHAR NOT NULL,               -- admin | operator | analyst | stakeholder
    password_hash VARCHAR NOT NULL,               -- argon2id, PHC string
    disabled      BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY DEFAULT nextval('group_id_seq'),
    name       VARCHAR NOT NULL UNIQUE,
    tenant     VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE group_members (
    group_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

-- by collection name: a grant may precede the collection (the demo group is granted `demo` before ingest)
CREATE TABLE collection_grants (
    group_id   INTEGER NOT NULL,
    collection VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, collection)
);

CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY DEFAULT nextval('api_key_id_seq'),
    prefix        VARCHAR NOT NULL UNIQUE,        -- shown to people and used to find the row; not secret
    secret_sha256 VARCHAR NOT NULL,               -- sha256 hex of the whole key; the key itself is never stored
    user_id       INTEGER NOT NULL,
    tenant        VARCHAR NOT NULL,
    role          VARCHAR NOT NULL,               -- the user's role when created (lowered with it)
    scopes        JSON NOT NULL,
    name          VARCHAR NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP,
    revoked_at    TIMESTAMP,
    last_used_at  TIMESTAMP
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE sessions (
    token_sha256 VARCHAR PRIMARY KEY,             -- sha256 hex of the opaque token the browser holds
    user_id      INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE sign_in_attempts (
    id         BIGINT PRIMARY KEY DEFAULT nextval('sign_in_attempt_id_seq'),
    account    VARCHAR NOT NULL,                  -- the name typed, known or not
    address    VARCHAR NOT NULL DEFAULT '',       -- client address, '' when unknown
    created_at TIMESTAMP NOT NULL,                -- `at` is a reserved word in DuckDB 2.0
    ok         BOOLEAN NOT NULL
);
CREATE INDEX sign_in_attempts_account ON sign_in_attempts (account);
CREATE INDEX sign_in_attempts_address ON sign_in_attempts (address);

-- NULL limit: no limit of that kind
CREATE TABLE quotas (
    tenant           VARCHAR PRIMARY KEY,
    monthly_tokens   BIGINT,
    monthly_cost_usd DOUBLE,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE usage (
    tenant   VARCHAR NOT NULL,
    month    VARCHAR NOT NULL,                    -- YYYY-MM, UTC
    tokens   BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, month)
);
