-- One notification per order event (event_id is the order event's deterministic id: a redelivered event adds nothing).
CREATE TABLE notifications.notifications (
    id              uuid PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    order_id        uuid NOT NULL,
    user_id         uuid NOT NULL,
    namespace       text NOT NULL,
    sale            text NOT NULL,
    recipient       text NOT NULL,
    template        text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX notifications_due ON notifications.notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_by_user ON notifications.notifications (user_id, created_at DESC, id);
