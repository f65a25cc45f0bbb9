-- Tickets: hand-overs to a person, opened by the create_ticket tool (after the user approved it, or with an API
-- key holding the `tickets` scope) in the caller's tenant. Title and body hold redacted text only, like chat's.
CREATE SEQUENCE IF NOT EXISTS ticket_id_seq START 1;

CREATE TABLE tickets (
    id              INTEGER PRIMARY KEY DEFAULT nextval('ticket_id_seq'),
    tenant          VARCHAR NOT NULL,
    created_by      VARCHAR NOT NULL,             -- the user the tool ran for
    title           VARCHAR NOT NULL,
    body            VARCHAR NOT NULL,
    priority        VARCHAR NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high')),
    conversation_id VARCHAR,                      -- the caller's conversation it hands over, if any
    status          VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX tickets_tenant ON tickets (tenant, created_at);
