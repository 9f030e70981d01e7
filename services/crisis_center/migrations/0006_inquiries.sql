-- People sought by their families (issue 18): the latest state of each inquiry from `families.inquiries`
-- (intake's, keyed by sought_id, no name), for the welfare counts of a crisis. An older event arriving late
-- changes nothing; a tombstone deletes the row; closing a crisis deletes its rows (the timeline keeps the counts).
CREATE TABLE IF NOT EXISTS inquiries (
    sought_id text PRIMARY KEY,
    crisis_id text,
    state     text        NOT NULL CHECK (state IN ('sought', 'matched', 'safe', 'closed')),
    at        timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS inquiries_crisis ON inquiries (crisis_id, state) WHERE crisis_id IS NOT NULL;

COMMENT ON COLUMN inquiries.sought_id IS 'not personal: intake''s opaque id of an inquiry (no name, no case detail)';
COMMENT ON COLUMN inquiries.crisis_id IS 'not personal: the crisis the inquiry belongs to, if any';
COMMENT ON COLUMN inquiries.state IS 'not personal: how far the inquiry has got (sought, matched, safe, closed)';
COMMENT ON COLUMN inquiries.at IS 'not personal: when intake changed the state (the latest counts)';
