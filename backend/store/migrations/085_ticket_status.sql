-- Who closed a ticket and when (both NULL while it is open; reopening clears them, the audit log keeps the history).
ALTER TABLE tickets ADD COLUMN closed_by VARCHAR;
ALTER TABLE tickets ADD COLUMN closed_at TIMESTAMP;
