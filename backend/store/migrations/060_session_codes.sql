-- One-time codes that turn a sign-in made on a page into the browser's HttpOnly session cookie: the page sends
-- the browser to /auth/session?code=..., which swaps the code for the cookie. A code lives about a minute and
-- is deleted when used. Nothing here is usable without the code, and the code itself is never stored: rows are
-- found by its sha256, and the session token is kept sealed (XOR) under a key derived from the code.
CREATE TABLE session_codes (
    code_sha256  VARCHAR PRIMARY KEY,             -- sha256 hex of the code in the URL
    sealed_token VARCHAR NOT NULL,                -- hex of the session token's bytes XOR HMAC-SHA256(code, ...)
    token_sha256 VARCHAR NOT NULL,                -- the session it hands over (sessions.token_sha256)
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
