-- Check-in on the public page during a crisis (issue 17): the form waiting for its one-time code, then confirmed.
-- The code is kept as an HMAC only; rows go when the crisis closes (like every welfare row).
CREATE TABLE IF NOT EXISTS check_ins (
    check_in_id  text PRIMARY KEY,
    crisis_id    text        NOT NULL REFERENCES crises (crisis_id),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    code_hmac    bytea       NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    confirmed_at timestamptz,
    person_id    text,
    full_name    text        NOT NULL,
    phone        text,
    email        text,
    language     text        NOT NULL CHECK (language IN ('fr', 'nl', 'de', 'en')),
    place        text,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    country      text        NOT NULL,
    companions   integer     NOT NULL DEFAULT 0 CHECK (companions BETWEEN 0 AND 50),
    answer       text        NOT NULL CHECK (answer IN ('safe', 'needs_help')),
    client_ip    text,
    CHECK (phone IS NOT NULL OR email IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS check_ins_phone ON check_ins (phone, created_at DESC) WHERE phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS check_ins_email ON check_ins (lower(email), created_at DESC) WHERE email IS NOT NULL;
CREATE INDEX IF NOT EXISTS check_ins_ip ON check_ins (client_ip, created_at DESC) WHERE client_ip IS NOT NULL;

-- Who checked in, and with how many people (the officers' list).
ALTER TABLE crisis_contacts ADD COLUMN IF NOT EXISTS full_name text;
ALTER TABLE crisis_contacts ADD COLUMN IF NOT EXISTS companions integer NOT NULL DEFAULT 0;

COMMENT ON COLUMN check_ins.person_id IS 'personal: the id given to the person who checked in';
COMMENT ON COLUMN check_ins.full_name IS 'personal: name given on the check-in page';
COMMENT ON COLUMN check_ins.phone IS 'personal: phone given on the check-in page (the code goes there)';
COMMENT ON COLUMN check_ins.email IS 'personal: email given on the check-in page';
COMMENT ON COLUMN check_ins.place IS 'personal: where the person says they are';
COMMENT ON COLUMN check_ins.lat IS 'personal: where the person is (the place found, or the position given)';
COMMENT ON COLUMN check_ins.lon IS 'personal: as lat';
COMMENT ON COLUMN check_ins.answer IS 'personal: safe or needs help';
COMMENT ON COLUMN check_ins.client_ip IS 'personal: the address the form came from (the hourly limit)';
COMMENT ON COLUMN check_ins.country IS 'not personal: the crisis country';
COMMENT ON COLUMN check_ins.language IS 'not personal: the language of the messages';
COMMENT ON COLUMN crisis_contacts.full_name IS 'personal: name given at a check-in (none for registrations)';
COMMENT ON COLUMN crisis_contacts.companions IS 'personal: how many people are with the person (check-in)';
