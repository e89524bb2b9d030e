-- The expiry sweep of a namespace looks for that namespace's due (or unreleased) orders: indexed by time alone, it would
-- walk every namespace's due orders and filter on namespace afterwards.
CREATE INDEX IF NOT EXISTS orders_due_by_namespace ON orders.orders (namespace, payment_due_at) WHERE status = 'RESERVED';
DROP INDEX IF EXISTS orders.orders_due;
CREATE INDEX IF NOT EXISTS orders_unreleased_by_namespace ON orders.orders (namespace, expired_at)
    WHERE status = 'EXPIRED' AND released_at IS NULL;
DROP INDEX IF EXISTS orders.orders_unreleased;
