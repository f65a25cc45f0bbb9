-- Who started each conversation: Chat's sidebar lists only the signed-in user's own conversations, and a
-- follow-up may continue only a conversation of the caller. NULL for conversations from before sign-in existed
-- (only the system caller, i.e. the CLI on the local file, may continue those).
ALTER TABLE conversations ADD COLUMN user_name VARCHAR;
CREATE INDEX conversations_user ON conversations (user_name, collection);
