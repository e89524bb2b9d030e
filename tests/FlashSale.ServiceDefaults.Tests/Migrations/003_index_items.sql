-- flashsale:no-transaction
-- Outside a transaction (PostgreSQL refuses CONCURRENTLY inside one); one statement, safe to run again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS items_by_name ON items (name);
