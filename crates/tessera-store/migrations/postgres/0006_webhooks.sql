-- Webhooks: an org's endpoints, the events written in the same
-- transaction as the change they report (the outbox), and one delivery
-- per event and subscribed endpoint, which every node's worker claims.
--
-- `secret` is the raw signing key: signing needs it, so it cannot be
-- hashed (docs/webhooks.md says how to protect it). A delivery's id is
-- its `webhook-id` header, the same on every retry. `locked_until` is the
-- lease of the node sending it: a node that dies mid-send leaves a lease
-- that runs out, and another node takes the delivery then.

CREATE TABLE webhooks (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    url         TEXT   NOT NULL,
    events      TEXT   NOT NULL, -- JSON list of event types, or ["*"]
    description TEXT,
    secret      BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, id)
);

CREATE TABLE webhook_events (
    id      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id  TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    type    TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    data    TEXT   NOT NULL -- JSON object
);

CREATE TABLE webhook_deliveries (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id             TEXT COLLATE "C" NOT NULL,
    webhook_id         TEXT COLLATE "C" NOT NULL,
    event_id           TEXT COLLATE "C" NOT NULL REFERENCES webhook_events (id),
    status             TEXT   NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts           BIGINT NOT NULL,
    next_attempt_at    BIGINT,
    locked_until       BIGINT,
    last_response_code BIGINT,
    last_error         TEXT,
    created_at         BIGINT NOT NULL,
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
);

-- The workers' claim: due pending deliveries, oldest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
