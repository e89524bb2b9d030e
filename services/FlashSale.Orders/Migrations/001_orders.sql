CREATE TABLE orders.orders (
    order_id        uuid PRIMARY KEY,
    namespace       text NOT NULL,
    sale            text NOT NULL,
    user_id         uuid NOT NULL,
    buyer_email     text NOT NULL DEFAULT '',
    sku             text NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    unit_price      numeric(14, 2) NOT NULL,
    currency        text NOT NULL,
    status          text NOT NULL DEFAULT 'RESERVED' CHECK (status IN ('RESERVED', 'PAID', 'EXPIRED')),
    idempotency_key text NOT NULL,
    gate            text NOT NULL,
    created_at      timestamptz NOT NULL,
    payment_due_at  timestamptz NOT NULL,
    paid_at         timestamptz,
    expired_at      timestamptz
);
CREATE INDEX orders_by_user ON orders.orders (user_id, created_at DESC, order_id);
CREATE INDEX orders_by_sale ON orders.orders (namespace, sale, sku);
CREATE INDEX orders_due ON orders.orders (payment_due_at) WHERE status = 'RESERVED';

-- The transactional outbox: events written in the same transaction as the state they describe,
-- published to RabbitMQ by OutboxPublisher, which republishes anything not confirmed.
CREATE TABLE orders.outbox (
    event_id     text PRIMARY KEY,
    exchange     text NOT NULL,
    routing_key  text NOT NULL,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON orders.outbox (created_at) WHERE published_at IS NULL;

-- State of the PostgreSQL baselines (StockGate postgres-row-lock and postgres-optimistic).
CREATE TABLE orders.gate_stock (
    namespace      text NOT NULL,
    sale           text NOT NULL,
    sku            text NOT NULL,
    initial        bigint NOT NULL,
    remaining      bigint NOT NULL CHECK (remaining >= 0),
    per_user_limit integer NOT NULL,
    unit_price     numeric(14, 2) NOT NULL,
    currency       text NOT NULL,
    version        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, sale, sku)
);
CREATE TABLE orders.gate_purchases (
    namespace text NOT NULL,
    sale      text NOT NULL,
    user_id   uuid NOT NULL,
    sku       text NOT NULL,
    quantity  integer NOT NULL,
    PRIMARY KEY (namespace, sale, user_id, sku)
);
CREATE TABLE orders.gate_idempotency (
    namespace  text NOT NULL,
    sale       text NOT NULL,
    user_id    uuid NOT NULL,
    key        text NOT NULL,
    order_id   uuid NOT NULL,
    sku        text NOT NULL,
    quantity   integer NOT NULL,
    PRIMARY KEY (namespace, sale, user_id, key)
);
