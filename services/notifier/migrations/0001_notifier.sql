-- One row per message to send. `dedup_key` (purpose | channel | recipient) is the guarantee that a redelivered
-- command, a second sender of the same command or a restart never makes a second message.
CREATE TABLE IF NOT EXISTS notifications (
    id               bigserial PRIMARY KEY,
    notification_id  text        NOT NULL UNIQUE,
    dedup_key        text        NOT NULL UNIQUE,
    purpose          text        NOT NULL,
    channel          text        NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient        text        NOT NULL,
    language         text        NOT NULL,
    template         text        NOT NULL,
    priority         smallint    NOT NULL,
    case_reference   text,
    crisis_id        text,
    subject          text,
    body             text        NOT NULL DEFAULT '',
    html             text,
    segments         integer,
    encoding         text,
    status           text        NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sent', 'delivered', 'failed', 'undeliverable', 'opted_out')),
    reason           text,
    -- Where the sending stands: pending (to send), reserved (a sender took it: a call may be in flight),
    -- accepted (the provider took it), done (nothing more to send).
    send_state       text        NOT NULL DEFAULT 'pending'
                     CHECK (send_state IN ('pending', 'reserved', 'accepted', 'done')),
    dispatches       integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_by       text,
    claimed_at       timestamptz,
    provider_id      text UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS notifications_to_send ON notifications (priority, id) WHERE send_state = 'pending';
CREATE INDEX IF NOT EXISTS notifications_reserved ON notifications (claimed_by) WHERE send_state = 'reserved';
CREATE INDEX IF NOT EXISTS notifications_case ON notifications (case_reference) WHERE case_reference IS NOT NULL;
CREATE INDEX IF NOT EXISTS notifications_crisis ON notifications (crisis_id) WHERE crisis_id IS NOT NULL;

-- Every state a notification went through, and what told us.
CREATE TABLE IF NOT EXISTS status_history (
    id               bigserial PRIMARY KEY,
    notification_id  text        NOT NULL REFERENCES notifications (notification_id) ON DELETE CASCADE,
    status           text        NOT NULL,
    reason           text,
    source           text        NOT NULL,
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS status_history_notification ON status_history (notification_id);

-- Numbers (E.164) that asked not to get messages (STOP, ARRET, STOPPEN, HALT... or Twilio's 21610).
CREATE TABLE IF NOT EXISTS opt_outs (
    address          text PRIMARY KEY,
    keyword          text,
    source           text        NOT NULL,
    at               timestamptz NOT NULL DEFAULT now()
);

-- Live senders: a reserved notification whose sender stopped beating is reconciled by another one.
CREATE TABLE IF NOT EXISTS senders (
    sender_id        text PRIMARY KEY,
    started_at       timestamptz NOT NULL DEFAULT now(),
    heartbeat_at     timestamptz NOT NULL DEFAULT now()
);
