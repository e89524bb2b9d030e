-- Per-product figures kept from order events (each event applied once: see stock.inbox).
CREATE TABLE stock.products (
    namespace text NOT NULL,
    sale      text NOT NULL,
    sku       text NOT NULL,
    reserved  bigint NOT NULL DEFAULT 0,
    paid      bigint NOT NULL DEFAULT 0,
    released  bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, sale, sku)
);
CREATE TABLE IF NOT EXISTS stock.inbox (
    consumer    text        NOT NULL,
    message_id  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX IF NOT EXISTS inbox_received_at ON stock.inbox (received_at);
