-- The SQLite form of postgres/0007_notices.sql (which explains the
-- tables): the same columns, typed for STRICT tables.

ALTER TABLE orgs ADD COLUMN expiry_warning_days TEXT NOT NULL DEFAULT '[7,1]';
ALTER TABLE orgs ADD COLUMN expiry_warning_max INTEGER NOT NULL DEFAULT 7;

CREATE TABLE token_expiry_notices (
    token_id   TEXT    NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    days       INTEGER NOT NULL,
    next_at    INTEGER NOT NULL,
    PRIMARY KEY (token_id, expires_at, days)
) STRICT;

CREATE INDEX tokens_expires_at ON tokens (expires_at);

CREATE TABLE email_outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    org_id          TEXT    NOT NULL REFERENCES orgs (id),
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    data            TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    locked_until    INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
