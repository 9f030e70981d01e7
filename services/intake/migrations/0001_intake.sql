-- Intake's schema. The pool's search_path is the schema, so tables are named bare.

-- Case numbers: one sequence per year (report_seq_YYYY). A sequence never hands out a number twice, even when
-- the transaction that took it rolls back (a gap, never a reuse). Years are created ahead; the function
-- creates a missing year on first use.
DO $$
BEGIN
    FOR y IN 2024..2040 LOOP
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I MINVALUE 1 MAXVALUE 999999 NO CYCLE', 'report_seq_' || y);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION next_reference_number(y int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    seq text := 'report_seq_' || y;
BEGIN
    IF y < 1000 OR y > 9999 THEN
        RAISE EXCEPTION 'year out of range: %', y;
    END IF;
    BEGIN
        RETURN nextval(seq::regclass);
    EXCEPTION WHEN undefined_table THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I MINVALUE 1 MAXVALUE 999999 NO CYCLE', seq);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- another session created it first
        END;
        RETURN nextval(seq::regclass);
    END;
END $$;

CREATE TABLE officers (
    officer_id  serial PRIMARY KEY,
    name        text    NOT NULL,
    role        text    NOT NULL,
    phone       text    NOT NULL,
    email       text    NOT NULL,
    post_id     text,                               -- NULL: headquarters in Brussels
    kinds       text[]  NOT NULL DEFAULT '{}',      -- empty: every kind
    team        text    NOT NULL DEFAULT 'consular' CHECK (team IN ('consular', 'quality')),
    active      boolean NOT NULL DEFAULT true
);

CREATE TABLE reports (
    reference                 text PRIMARY KEY,
    kind                      text        NOT NULL,
    status                    text        NOT NULL,
    channel                   text        NOT NULL,
    language                  text        NOT NULL,
    reporter                  jsonb       NOT NULL,
    reporter_phone            text,
    subject                   jsonb,
    location                  jsonb       NOT NULL,
    description               text        NOT NULL,
    occurred_at               timestamptz,
    complex                   boolean     NOT NULL DEFAULT false,
    forward_to                text,
    received_at               timestamptz NOT NULL,
    reply_due_by              timestamptz NOT NULL,
    provisional_reply_due_by  timestamptz,
    forward_due_by            timestamptz,
    officer_id                int         NOT NULL REFERENCES officers,
    post                      jsonb,
    post_id                   text,
    source                    text        NOT NULL,      -- CloudEvents source of the producer, ours for our API
    external_id               text,                      -- the producer's report id, for reports coming in
    closed_at                 timestamptz,
    UNIQUE (source, external_id)
);
CREATE INDEX reports_open_by_phone ON reports (reporter_phone, received_at DESC) WHERE status <> 'closed';
CREATE INDEX reports_open_by_officer ON reports (officer_id) WHERE status <> 'closed';

CREATE TABLE status_history (
    id         bigserial PRIMARY KEY,
    reference  text        NOT NULL REFERENCES reports ON DELETE CASCADE,
    status     text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    note       text,
    actor      text
);
CREATE INDEX status_history_reference ON status_history (reference, id);

-- Every message sent or received about a case; outgoing ones carry the notifier's notification id.
CREATE TABLE messages (
    id               bigserial PRIMARY KEY,
    reference        text        NOT NULL REFERENCES reports ON DELETE CASCADE,
    direction        text        NOT NULL CHECK (direction IN ('in', 'out')),
    channel          text        NOT NULL,       -- sms, email, letter, voice
    purpose          text,
    notification_id  text UNIQUE,
    provider_id      text UNIQUE,                -- Twilio's MessageSid or CallSid of an inbound message
    body             text,
    officer          jsonb,
    status           text        NOT NULL,
    status_reason    text,
    at               timestamptz NOT NULL DEFAULT now(),
    status_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_reference ON messages (reference, id);

CREATE TABLE message_statuses (
    id               bigserial PRIMARY KEY,
    notification_id  text        NOT NULL,
    status           text        NOT NULL,
    reason           text,
    at               timestamptz NOT NULL
);
CREATE INDEX message_statuses_notification ON message_statuses (notification_id);

CREATE TABLE idempotency_keys (
    principal     text        NOT NULL,
    key           text        NOT NULL,
    request_hash  text        NOT NULL,
    reference     text        NOT NULL REFERENCES reports ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);

CREATE TABLE on_call_roster (
    id                 serial PRIMARY KEY,
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL CHECK (ends_at > starts_at),
    officer_id         int NOT NULL REFERENCES officers,
    backup_officer_id  int REFERENCES officers
);
CREATE INDEX on_call_roster_span ON on_call_roster (starts_at, ends_at);

-- Charter clock instants: the scheduler fires what is due and marks it, so a restart neither loses nor repeats.
CREATE TABLE deadlines (
    id         bigserial PRIMARY KEY,
    reference  text        NOT NULL REFERENCES reports ON DELETE CASCADE,
    deadline   text        NOT NULL,      -- reply, provisional_reply, forward_notice
    event      text        NOT NULL,      -- approaching, missed
    due_by     timestamptz NOT NULL,
    fire_at    timestamptz NOT NULL,
    fired_at   timestamptz,
    cancelled_at timestamptz,
    UNIQUE (reference, deadline, event)
);
CREATE INDEX deadlines_pending ON deadlines (fire_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE print_queue (
    id          bigserial PRIMARY KEY,
    reference   text        NOT NULL REFERENCES reports ON DELETE CASCADE,
    purpose     text        NOT NULL UNIQUE,
    language    text        NOT NULL,
    address     text        NOT NULL,
    subject     text        NOT NULL,
    body        text        NOT NULL,
    officer     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    printed_at  timestamptz
);

CREATE TABLE surveys (
    reference    text PRIMARY KEY REFERENCES reports ON DELETE CASCADE,
    channel      text        NOT NULL,
    phone        text,
    sent_at      timestamptz NOT NULL DEFAULT now(),
    answer       smallint CHECK (answer BETWEEN 1 AND 5),
    answered_at  timestamptz
);
CREATE INDEX surveys_pending_by_phone ON surveys (phone, sent_at DESC) WHERE answer IS NULL;

-- Active crises from crisis.status, for the voice line's announcement.
CREATE TABLE active_crises (
    crisis_id       text PRIMARY KEY,
    title           text        NOT NULL,
    hotline_number  text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Officers and the on-call roster are data, not schema: production manages them through the admin API
-- (/v1/admin/officers, /v1/admin/roster); local runs seed placeholders with `python -m shared.cli seed`.
