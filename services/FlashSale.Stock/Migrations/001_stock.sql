-- Per-product figures kept from order events (each event applied once: see its inbox, FlashSale.Messaging).
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
