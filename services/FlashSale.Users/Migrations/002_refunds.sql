-- Refunds: an order that was debited and then expired (its payment's lease lapsed before it was marked paid) gets its
-- money back once, when the users service consumes its order.expired event. A refund row carries the order id like the
-- debit it reverses; the order id is unique per kind, so an order has at most one debit and one refund.
ALTER TABLE users.wallet_ledger DROP CONSTRAINT wallet_ledger_kind_check;
ALTER TABLE users.wallet_ledger ADD CONSTRAINT wallet_ledger_kind_check CHECK (kind IN ('initial', 'topup', 'debit', 'refund'));
ALTER TABLE users.wallet_ledger DROP CONSTRAINT wallet_ledger_check;
ALTER TABLE users.wallet_ledger ADD CONSTRAINT wallet_ledger_order_check CHECK ((kind IN ('debit', 'refund')) = (order_id IS NOT NULL));
DROP INDEX users.wallet_ledger_order_unique;
CREATE UNIQUE INDEX wallet_ledger_order_kind_unique ON users.wallet_ledger (order_id, kind) WHERE order_id IS NOT NULL;
