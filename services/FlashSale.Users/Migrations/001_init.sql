CREATE TABLE users.users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Case-insensitive uniqueness: the constraint names tell which field collided (409 USERNAME_TAKEN / EMAIL_TAKEN).
CREATE UNIQUE INDEX users_username_unique ON users.users (lower(username));
CREATE UNIQUE INDEX users_email_unique ON users.users (lower(email));

CREATE TABLE users.wallets (
    user_id    uuid PRIMARY KEY REFERENCES users.users (id),
    balance    numeric(18, 2) NOT NULL CHECK (balance >= 0),
    currency   char(3) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every balance change; amount is signed (debits negative), so a wallet's balance is the sum of its rows.
CREATE TABLE users.wallet_ledger (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users.wallets (user_id),
    kind          text NOT NULL CHECK (kind IN ('initial', 'topup', 'debit')),
    amount        numeric(18, 2) NOT NULL,
    balance_after numeric(18, 2) NOT NULL CHECK (balance_after >= 0),
    currency      char(3) NOT NULL,
    order_id      uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'debit') = (order_id IS NOT NULL))
);
-- The order id is the idempotency key of a debit: at most one debit per order.
CREATE UNIQUE INDEX wallet_ledger_order_unique ON users.wallet_ledger (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX wallet_ledger_user ON users.wallet_ledger (user_id, id);
