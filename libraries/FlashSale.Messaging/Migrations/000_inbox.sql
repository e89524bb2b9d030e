-- The inbox of a service's event consumers (see Inbox.cs): one row per event a consumer applied, written in the handler's
-- transaction, so that an event delivered again is recognised and skipped. Runs in the service's schema (its search_path);
-- IF NOT EXISTS because schemas made before this migration already hold the table.
CREATE TABLE IF NOT EXISTS inbox (
    consumer    text        NOT NULL,
    message_id  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX IF NOT EXISTS inbox_received_at ON inbox (received_at);
