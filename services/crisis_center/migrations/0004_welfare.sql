-- Welfare checks (contract version 2): who a crisis can ask, each round, where each person's escalation stands,
-- and each person's latest answer. The contacts are written by the worker in the transaction that sends the
-- crisis alert, so everyone alerted can be asked and no one else.
CREATE TABLE IF NOT EXISTS crisis_contacts (
    crisis_id text        NOT NULL REFERENCES crises (crisis_id),
    person_id text        NOT NULL,  -- the traveller id (or the id given at a check-in)
    phone     text,
    email     text,
    language  text        NOT NULL CHECK (language IN ('fr', 'nl', 'de', 'en')),
    source    text        NOT NULL CHECK (source IN ('registration', 'check_in')),
    added_at  timestamptz NOT NULL,
    PRIMARY KEY (crisis_id, person_id),
    CHECK (phone IS NOT NULL OR email IS NOT NULL)
);

CREATE TABLE IF NOT EXISTS welfare_checks (
    check_id               text PRIMARY KEY,
    crisis_id              text        NOT NULL REFERENCES crises (crisis_id),
    started_at             timestamptz NOT NULL,
    started_by             text        NOT NULL,
    escalate_after_minutes integer     NOT NULL CHECK (escalate_after_minutes >= 1),
    recipients             integer     NOT NULL CHECK (recipients >= 0)
);
CREATE INDEX IF NOT EXISTS welfare_checks_crisis ON welfare_checks (crisis_id, started_at DESC);

-- One row per person of a round. `step` says what was done last; `due_at` when the next step is due (NULL once
-- answered or listed for officers to phone). The scheduler moves a row and enqueues its message in one
-- transaction, so no step is taken twice, even across a crash.
CREATE TABLE IF NOT EXISTS welfare_questions (
    check_id    text        NOT NULL REFERENCES welfare_checks (check_id),
    person_id   text        NOT NULL,
    crisis_id   text        NOT NULL,
    step        text        NOT NULL CHECK (step IN ('pending', 'asked', 'reminded', 'called', 'to_phone')),
    due_at      timestamptz,
    asked_at    timestamptz,
    answered_at timestamptz,
    PRIMARY KEY (check_id, person_id)
);
CREATE INDEX IF NOT EXISTS welfare_questions_due ON welfare_questions (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS welfare_questions_person ON welfare_questions (crisis_id, person_id);

-- Each person's latest answer in a crisis (the latest counts; an older one arriving late changes nothing).
CREATE TABLE IF NOT EXISTS welfare_status (
    crisis_id      text        NOT NULL REFERENCES crises (crisis_id),
    person_id      text        NOT NULL,
    answer         text        NOT NULL CHECK (answer IN ('safe', 'needs_help', 'unclear')),
    channel        text        NOT NULL,
    answer_text    text,
    case_reference text,
    check_id       text,
    at             timestamptz NOT NULL,
    PRIMARY KEY (crisis_id, person_id)
);
CREATE INDEX IF NOT EXISTS welfare_status_answer ON welfare_status (crisis_id, answer);

COMMENT ON COLUMN crisis_contacts.person_id IS 'personal: traveller id of a person in the crisis area';
COMMENT ON COLUMN crisis_contacts.phone IS 'personal: where the person is asked by SMS and phoned';
COMMENT ON COLUMN crisis_contacts.email IS 'personal: where the person is asked by email';
COMMENT ON COLUMN crisis_contacts.language IS 'not personal: the language of the messages';
COMMENT ON COLUMN welfare_questions.person_id IS 'personal: as crisis_contacts.person_id';
COMMENT ON COLUMN welfare_status.person_id IS 'personal: as crisis_contacts.person_id';
COMMENT ON COLUMN welfare_status.answer IS 'personal: whether the person is safe or needs help';
COMMENT ON COLUMN welfare_status.answer_text IS 'personal: what the person wrote';
