-- The webhook outbox in one table (see the SQLite migration of the same
-- number): a delivery carries its event's type, time and data itself, and
-- `webhook_events` goes, one heap and one index fewer written with every
-- event. A delivery whose event is gone cannot be sent and is not kept.
ALTER TABLE webhook_deliveries ADD COLUMN type TEXT, ADD COLUMN at BIGINT, ADD COLUMN data TEXT;
UPDATE webhook_deliveries d SET type = e.type, at = e.at, data = e.data
    FROM webhook_events e WHERE e.id = d.event_id;
DELETE FROM webhook_deliveries WHERE data IS NULL;
ALTER TABLE webhook_deliveries ALTER COLUMN type SET NOT NULL, ALTER COLUMN at SET NOT NULL,
    ALTER COLUMN data SET NOT NULL;
DROP TABLE webhook_events;
