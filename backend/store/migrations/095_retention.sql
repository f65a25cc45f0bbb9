-- Retention per collection: documents not ingested or updated for this many days are deleted by the retention job
-- (backend/privacy/retention.py). NULL keeps them forever. Conversations' retention is a setting
-- (GROUNDWORK_CONVERSATION_RETENTION_DAYS), traces' too (GROUNDWORK_TRACE_RETENTION_DAYS).
ALTER TABLE collections ADD COLUMN retention_days INTEGER;
