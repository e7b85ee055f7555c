-- Token controls checked at verification time (allowed addresses, a rate
-- limit, a quota) and each token's usage per day.

-- The controls as set (JSON: allowed_ips, rate_limit, quota with its
-- refill); NULL when the token has none, which is what verification
-- checks first.
ALTER TABLE tokens ADD COLUMN controls TEXT;

-- The quota's live count, spent in slices: a node reserves a slice with
-- one conditional UPDATE (never below 0) and spends it from memory.
-- `quota_grant` is what the last reservation took (an UPDATE's RETURNING
-- sees only new values). `quota_version` changes whenever the count is
-- set (by an update or a refill), so a slice reserved before is not
-- given back into the new count. `quota_period` is the refill period the
-- count belongs to (days or months since an epoch, see tessera-core).
ALTER TABLE tokens ADD COLUMN quota_remaining BIGINT;
ALTER TABLE tokens ADD COLUMN quota_grant BIGINT;
ALTER TABLE tokens ADD COLUMN quota_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN quota_period BIGINT;

-- The rate limit's current window (its start, Unix seconds), how much of
-- its budget nodes have reserved, and the last reservation's grant.
ALTER TABLE tokens ADD COLUMN rate_window BIGINT;
ALTER TABLE tokens ADD COLUMN rate_used BIGINT;
ALTER TABLE tokens ADD COLUMN rate_grant BIGINT;

-- Uses per token and UTC day (days since 1970-01-01), by outcome, added
-- to by every node's flush.
CREATE TABLE token_usage (
    token_id        TEXT   NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    day             BIGINT NOT NULL,
    valid           BIGINT NOT NULL DEFAULT 0,
    denied          BIGINT NOT NULL DEFAULT 0,
    rate_limited    BIGINT NOT NULL DEFAULT 0,
    quota_exhausted BIGINT NOT NULL DEFAULT 0,
    ip_not_allowed  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, day)
);

-- The addresses a token was used from, newest kept (each flush trims a
-- token's rows to the 5 most recent).
CREATE TABLE token_recent_ips (
    token_id     TEXT   NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    ip           TEXT   NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (token_id, ip)
);
