-- Payment: an attempt takes a lease on its order (payment_started_at) that holds off expiry while the debit may be in flight.
-- Expiry: released_at is set once the order's units are back in stock, so a sweep finishes releases a crash interrupted.
ALTER TABLE orders.orders
    ADD COLUMN payment_started_at timestamptz,
    ADD COLUMN released_at        timestamptz;
CREATE INDEX orders_unreleased ON orders.orders (expired_at) WHERE status = 'EXPIRED' AND released_at IS NULL;
