-- Expiry notices and the email outbox.
--
-- `expiry_warning_days` is the org's list of warning thresholds (JSON,
-- largest first); `expiry_warning_max` its largest (0: none), so that the
-- expiry scan reads only tokens inside some org's window.
--
-- `token_expiry_notices` records each `token.expiring` (days > 0) and
-- `token.expired` (days = 0) event written, per token and `expires_at`:
-- its primary key makes each one happen once whatever the number of nodes
-- scanning (INSERT … ON CONFLICT DO NOTHING in the event's transaction),
-- and a new `expires_at` starts afresh. `next_at` is when the token's next
-- threshold begins, before which the scan skips it.
--
-- `email_outbox` holds notice emails written in the transaction of what
-- they tell (as webhook deliveries are), one row per recipient, rendered
-- and sent by whichever node claims it (`locked_until` is its lease).

ALTER TABLE orgs ADD COLUMN expiry_warning_days TEXT NOT NULL DEFAULT '[7,1]';
ALTER TABLE orgs ADD COLUMN expiry_warning_max BIGINT NOT NULL DEFAULT 7;

CREATE TABLE token_expiry_notices (
    token_id   TEXT COLLATE "C" NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    days       BIGINT NOT NULL,
    next_at    BIGINT NOT NULL,
    PRIMARY KEY (token_id, expires_at, days)
);

CREATE INDEX tokens_expires_at ON tokens (expires_at);

CREATE TABLE email_outbox (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    kind            TEXT   NOT NULL,
    recipient       TEXT   NOT NULL,
    data            TEXT   NOT NULL, -- JSON object: what the email tells
    status          TEXT   NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT,
    locked_until    BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL
);

CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
