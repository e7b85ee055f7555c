-- The webhook outbox, cheaper to write (see the SQLite migration of the
-- same number): a delivery no longer has a foreign key (nor an index) to
-- its event, which one statement writes with it (the purge deletes an
-- event only when no pending delivery names it); and the claim's index
-- holds pending deliveries only, so a finished one leaves it instead of
-- moving within it.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey;
DROP INDEX webhook_deliveries_event;
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE status = 'pending';
