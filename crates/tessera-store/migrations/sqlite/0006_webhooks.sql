-- Webhooks: an org's endpoints, the events written in the same
-- transaction as the change they report (the outbox), and one delivery
-- per event and subscribed endpoint (the PostgreSQL migration explains
-- the columns).

CREATE TABLE webhooks (
    id          TEXT    NOT NULL PRIMARY KEY,
    org_id      TEXT    NOT NULL REFERENCES orgs (id),
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL, -- JSON list of event types, or ["*"]
    description TEXT,
    secret      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, id)
) STRICT;

CREATE TABLE webhook_events (
    id      TEXT    NOT NULL PRIMARY KEY,
    org_id  TEXT    NOT NULL REFERENCES orgs (id),
    type    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    data    TEXT    NOT NULL -- JSON object
) STRICT;

CREATE TABLE webhook_deliveries (
    id                 TEXT    NOT NULL PRIMARY KEY,
    org_id             TEXT    NOT NULL,
    webhook_id         TEXT    NOT NULL,
    event_id           TEXT    NOT NULL REFERENCES webhook_events (id),
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts           INTEGER NOT NULL,
    next_attempt_at    INTEGER,
    locked_until       INTEGER,
    last_response_code INTEGER,
    last_error         TEXT,
    created_at         INTEGER NOT NULL,
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
