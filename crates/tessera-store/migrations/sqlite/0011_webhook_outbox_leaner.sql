-- The webhook outbox, cheaper to write. An event and its deliveries are
-- written inside the transaction of the change they report, and every
-- B-tree they touch is a page written with it, and written again when the
-- WAL is checkpointed. So:
-- - both tables are WITHOUT ROWID: clustered by their time-ordered `id`,
--   with no separate index for the primary key;
-- - a delivery no longer has a foreign key (nor an index) to its event:
--   both are written by one statement, and the purge deletes an event
--   only when no pending delivery names it;
-- - the claim's index holds pending deliveries only, so a finished one
--   leaves it instead of moving within it.
-- Rebuilt by copying (SQLite cannot change a table's kind or constraints).

CREATE TABLE webhook_events_new (
    id      TEXT    NOT NULL PRIMARY KEY,
    org_id  TEXT    NOT NULL REFERENCES orgs (id),
    type    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    data    TEXT    NOT NULL -- JSON object
) STRICT, WITHOUT ROWID;

CREATE TABLE webhook_deliveries_new (
    id                 TEXT    NOT NULL PRIMARY KEY,
    org_id             TEXT    NOT NULL,
    webhook_id         TEXT    NOT NULL,
    event_id           TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts           INTEGER NOT NULL,
    next_attempt_at    INTEGER,
    locked_until       INTEGER,
    last_response_code INTEGER,
    last_error         TEXT,
    created_at         INTEGER NOT NULL,
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks (org_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

INSERT INTO webhook_events_new (id, org_id, type, at, data)
    SELECT id, org_id, type, at, data FROM webhook_events;
INSERT INTO webhook_deliveries_new (id, org_id, webhook_id, event_id, status, attempts,
        next_attempt_at, locked_until, last_response_code, last_error, created_at)
    SELECT id, org_id, webhook_id, event_id, status, attempts, next_attempt_at, locked_until,
        last_response_code, last_error, created_at
    FROM webhook_deliveries;

DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
ALTER TABLE webhook_events_new RENAME TO webhook_events;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;

-- The workers' claim: due pending deliveries, oldest first (the primary
-- key, `id`, is in every index of a WITHOUT ROWID table).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
