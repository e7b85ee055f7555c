-- The SQLite form of postgres/0008_token_limits.sql (which explains the
-- columns): the same columns, typed for STRICT tables.

ALTER TABLE tokens ADD COLUMN controls TEXT;
ALTER TABLE tokens ADD COLUMN quota_remaining INTEGER;
ALTER TABLE tokens ADD COLUMN quota_grant INTEGER;
ALTER TABLE tokens ADD COLUMN quota_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN quota_period INTEGER;
ALTER TABLE tokens ADD COLUMN rate_window INTEGER;
ALTER TABLE tokens ADD COLUMN rate_used INTEGER;
ALTER TABLE tokens ADD COLUMN rate_grant INTEGER;

CREATE TABLE token_usage (
    token_id        TEXT    NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    day             INTEGER NOT NULL,
    valid           INTEGER NOT NULL DEFAULT 0,
    denied          INTEGER NOT NULL DEFAULT 0,
    rate_limited    INTEGER NOT NULL DEFAULT 0,
    quota_exhausted INTEGER NOT NULL DEFAULT 0,
    ip_not_allowed  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, day)
) STRICT;

CREATE TABLE token_recent_ips (
    token_id     TEXT    NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    ip           TEXT    NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (token_id, ip)
) STRICT;
