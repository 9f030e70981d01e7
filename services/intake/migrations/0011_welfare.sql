-- Welfare checks (contract version 2): the open question of each number, so that an SMS from it is read as an
-- answer and not as a new distress report, and the crisis a case was opened for.
CREATE TABLE IF NOT EXISTS welfare_questions (
    phone          text        NOT NULL,
    crisis_id      text        NOT NULL,
    check_id       text        NOT NULL,
    person_id      text        NOT NULL,
    language       text        NOT NULL,
    crisis_title   text        NOT NULL,
    hotline_number text        NOT NULL,
    email          text,
    asked_at       timestamptz NOT NULL,
    open_until     timestamptz NOT NULL,
    PRIMARY KEY (phone, crisis_id)
);
CREATE INDEX IF NOT EXISTS welfare_questions_open ON welfare_questions (phone, open_until DESC);

ALTER TABLE reports ADD COLUMN IF NOT EXISTS crisis_id text;
CREATE INDEX IF NOT EXISTS reports_crisis ON reports (crisis_id) WHERE crisis_id IS NOT NULL;

COMMENT ON COLUMN welfare_questions.phone IS 'personal: the number a welfare question was sent to';
COMMENT ON COLUMN welfare_questions.person_id IS 'personal: the traveller id the question names';
COMMENT ON COLUMN welfare_questions.email IS 'personal: the person''s email, for the case a help answer opens';
COMMENT ON COLUMN welfare_questions.crisis_title IS 'not personal: crisis title';
COMMENT ON COLUMN reports.crisis_id IS 'not personal: the crisis a case was opened for';
