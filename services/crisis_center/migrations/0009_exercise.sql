-- Exercise mode (issue 23): a crisis opened by hand as an exercise. Its messages go only to the test list
-- (EXERCISE_RECIPIENTS), recorded as its contacts with the source 'exercise' when it is opened; every text, feed and
-- view marks it (CAP status Exercise).
ALTER TABLE crises ADD COLUMN IF NOT EXISTS exercise boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN crises.exercise IS 'not personal: the crisis is an exercise (messages to the test list only)';

ALTER TABLE crisis_contacts DROP CONSTRAINT IF EXISTS crisis_contacts_source_check;
ALTER TABLE crisis_contacts ADD CONSTRAINT crisis_contacts_source_check
    CHECK (source IN ('registration', 'check_in', 'exercise'));
