-- Outbox rows the broker can never take (over the producer's size limit...): moved here with the reason, so that
-- they do not block every row behind them (issue 19, finding 5). People look here; nothing replays them.
CREATE TABLE IF NOT EXISTS outbox_dead (
    id         bigint      PRIMARY KEY,
    event_id   text        NOT NULL,
    topic      text        NOT NULL,
    key        text        NOT NULL,
    payload    bytea       NOT NULL,
    headers    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL,
    reason     text        NOT NULL,
    dead_at    timestamptz NOT NULL DEFAULT now()
);
