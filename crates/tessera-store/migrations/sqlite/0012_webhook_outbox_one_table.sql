-- The webhook outbox in one table: a delivery carries its event's type,
-- time and data itself, and `webhook_events` goes. An event is written
-- inside the transaction of the change it reports, and every B-tree it
-- touches is a page written with that commit; the event's own row was
-- one more such page per event. Nearly every event goes to one endpoint,
-- so the data is now stored once per delivery instead of once per event
-- (an event for several endpoints stores it on each; the rows of one
-- event are written together, so they mostly share a page). `event_id`
-- stays: it names the event in the delivery log.
-- Rebuilt by copying (SQLite cannot add NOT NULL columns without a
-- default). A delivery whose event is gone cannot be sent and is not kept.

CREATE TABLE webhook_deliveries_new (
    id                 TEXT    NOT NULL PRIMARY KEY,
    org_id             TEXT    NOT NULL,
    webhook_id         TEXT    NOT NULL,
    event_id           TEXT    NOT NULL,
    type               TEXT    NOT NULL,
    at                 INTEGER NOT NULL,
    data               TEXT    NOT NULL, -- JSON object
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts           INTEGER NOT NULL,
    next_attempt_at    INTEGER,
    locked_until       INTEGER,
    last_response_code INTEGER,
    last_error         TEXT,
    created_at         INTEGER NOT NULL,
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

INSERT INTO webhook_deliveries_new (id, org_id, webhook_id, event_id, type, at, data, status,
        attempts, next_attempt_at, locked_until, last_response_code, last_error, created_at)
    SELECT d.id, d.org_id, d.webhook_id, d.event_id, e.type, e.at, e.data, d.status,
        d.attempts, d.next_attempt_at, d.locked_until, d.last_response_code, d.last_error,
        d.created_at
    FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id;

DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;

-- The workers' claim: due pending deliveries, oldest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
