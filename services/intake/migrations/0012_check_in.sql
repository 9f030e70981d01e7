-- Check-in by SMS during a crisis (issue 17): the crises' areas (to place a check-in), the check-ins waiting for a
-- place ("ask again for the place"), and each number's check-ins (to limit them per hour).
ALTER TABLE active_crises ADD COLUMN IF NOT EXISTS area jsonb;

CREATE TABLE IF NOT EXISTS check_ins_waiting_for_place (
    phone     text        PRIMARY KEY,
    answer    text        NOT NULL CHECK (answer IN ('safe', 'needs_help')),
    language  text        NOT NULL,
    asked_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS sms_check_ins (
    id    bigserial   PRIMARY KEY,
    phone text        NOT NULL,
    at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_check_ins_phone ON sms_check_ins (phone, at DESC);

COMMENT ON COLUMN active_crises.area IS 'not personal: the crisis area (contract shape)';
COMMENT ON COLUMN check_ins_waiting_for_place.phone IS 'personal: a number that checked in without a place we found';
COMMENT ON COLUMN sms_check_ins.phone IS 'personal: a number that sent a check-in (kept one day, for the hourly limit)';
