-- Outbox rows whose exchange no longer exists (the sale's topology was deleted while they waited) are parked instead of
-- being retried forever at the head of the queue, where they blocked every later event. Kept for inspection.
ALTER TABLE orders.outbox ADD COLUMN IF NOT EXISTS parked_at timestamptz;
ALTER TABLE orders.outbox ADD COLUMN IF NOT EXISTS last_error text;
DROP INDEX IF EXISTS orders.outbox_unpublished;
CREATE INDEX outbox_unpublished ON orders.outbox (created_at) WHERE published_at IS NULL AND parked_at IS NULL;
