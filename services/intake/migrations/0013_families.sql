-- People sought by their families (issue 18, contract version 2): the people we know of (registered travellers,
-- people who checked in, people who answered a welfare question), the people sought (a missing-person report's
-- subject, a person imported from PFIF), the name codes that narrow a million candidates to a few hundred, and the
-- matches proposed, confirmed or rejected by officers. PFIF notes imported from other organisations are kept as
-- they came, for the export.

CREATE TABLE IF NOT EXISTS known_people (
    person_id      text        PRIMARY KEY,
    full_name      text,
    phone          text,
    country        text,
    place          text,
    crisis_id      text,
    last_answer    text        CHECK (last_answer IN ('safe', 'needs_help', 'unclear')),
    last_answer_at timestamptz,
    last_channel   text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS known_people_phone ON known_people (phone) WHERE phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS known_people_crisis ON known_people (crisis_id) WHERE crisis_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS known_people_codes (
    code      text     NOT NULL,
    person_id text     NOT NULL REFERENCES known_people ON DELETE CASCADE,
    word      smallint NOT NULL,
    PRIMARY KEY (code, person_id, word)
);
CREATE INDEX IF NOT EXISTS known_people_codes_person ON known_people_codes (person_id);

CREATE TABLE IF NOT EXISTS sought_people (
    sought_id        bigserial   PRIMARY KEY,
    reference        text        UNIQUE REFERENCES reports ON DELETE CASCADE,
    pfif_record_id   text        UNIQUE,
    full_name        text        NOT NULL,
    given_name       text,
    family_name      text,
    date_of_birth    text,
    phone            text,
    country          text,
    crisis_id        text,
    source_name      text,
    source_date      timestamptz,
    entry_date       timestamptz NOT NULL DEFAULT now(),
    open             boolean     NOT NULL DEFAULT true,
    state            text        NOT NULL DEFAULT 'sought',
    created_at       timestamptz NOT NULL DEFAULT now(),
    matched_at       timestamptz,
    CHECK (reference IS NOT NULL OR pfif_record_id IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS sought_people_crisis ON sought_people (crisis_id) WHERE crisis_id IS NOT NULL;
-- An imported person waits here for its first match (the worker's `PendingMatches`).
CREATE INDEX IF NOT EXISTS sought_people_unmatched ON sought_people (sought_id) WHERE matched_at IS NULL;

CREATE TABLE IF NOT EXISTS sought_people_codes (
    code      text   NOT NULL,
    sought_id bigint NOT NULL REFERENCES sought_people ON DELETE CASCADE,
    PRIMARY KEY (code, sought_id)
);

CREATE TABLE IF NOT EXISTS matches (
    sought_id  bigint      NOT NULL REFERENCES sought_people ON DELETE CASCADE,
    person_id  text        NOT NULL,
    score      real        NOT NULL CHECK (score >= 0 AND score <= 1),
    state      text        NOT NULL DEFAULT 'proposed' CHECK (state IN ('proposed', 'confirmed', 'rejected')),
    matched_at timestamptz NOT NULL DEFAULT now(),
    decided_by text,
    decided_at timestamptz,
    PRIMARY KEY (sought_id, person_id)
);
CREATE INDEX IF NOT EXISTS matches_person ON matches (person_id);

CREATE TABLE IF NOT EXISTS pfif_notes (
    note_record_id          text        PRIMARY KEY,
    person_record_id        text        NOT NULL,
    linked_person_record_id text,
    entry_date              timestamptz,
    source_date             timestamptz,
    author_name             text,
    author_made_contact     boolean,
    status                  text,
    last_known_location     text,
    text                    text,
    imported_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pfif_notes_person ON pfif_notes (person_record_id);

-- "Sought person answered safe": the case goes to the top of its officer's board until the officer acts.
ALTER TABLE reports ADD COLUMN IF NOT EXISTS attention text;
CREATE INDEX IF NOT EXISTS reports_attention ON reports (reference) WHERE attention IS NOT NULL;

COMMENT ON COLUMN known_people.person_id IS 'personal: the traveller id, or the id of someone who checked in';
COMMENT ON COLUMN known_people.full_name IS 'personal: the name the person registered or checked in with';
COMMENT ON COLUMN known_people.phone IS 'personal: the person''s phone number (E.164)';
COMMENT ON COLUMN known_people.place IS 'personal: the person''s last known place (town, country)';
COMMENT ON COLUMN known_people.last_answer IS 'personal: the person''s last welfare answer';
COMMENT ON COLUMN known_people.country IS 'not personal: a country code';
COMMENT ON COLUMN known_people_codes.code IS 'personal: a phonetic code of a word of the person''s name';
COMMENT ON COLUMN known_people_codes.person_id IS 'personal: the person the code indexes';
COMMENT ON COLUMN known_people_codes.word IS 'not personal: the position of the word the code stands for';
COMMENT ON COLUMN sought_people.full_name IS 'personal: the name of the person sought by their family';
COMMENT ON COLUMN sought_people.given_name IS 'personal: the sought person''s given name (PFIF)';
COMMENT ON COLUMN sought_people.family_name IS 'personal: the sought person''s family name (PFIF)';
COMMENT ON COLUMN sought_people.date_of_birth IS 'personal: the sought person''s date of birth (PFIF imports only)';
COMMENT ON COLUMN sought_people.phone IS 'personal: the sought person''s phone, when the family gave it';
COMMENT ON COLUMN sought_people.pfif_record_id IS 'not personal: the PFIF person record id of an import';
COMMENT ON COLUMN sought_people.source_name IS 'not personal: the organisation a PFIF record came from';
COMMENT ON COLUMN sought_people_codes.code IS 'personal: a phonetic code of a word of the sought person''s name';
COMMENT ON COLUMN matches.person_id IS 'personal: the known person proposed as the sought one';
COMMENT ON COLUMN matches.decided_by IS 'personal: the officer who confirmed or rejected the match';
COMMENT ON COLUMN pfif_notes.author_name IS 'personal: the author of an imported PFIF note';
COMMENT ON COLUMN pfif_notes.last_known_location IS 'personal: where the person was last known to be (PFIF note)';
COMMENT ON COLUMN pfif_notes.text IS 'personal: the text of an imported PFIF note';
COMMENT ON COLUMN pfif_notes.note_record_id IS 'not personal: the PFIF note record id';
COMMENT ON COLUMN pfif_notes.person_record_id IS 'not personal: the PFIF person record the note is about';
COMMENT ON COLUMN reports.attention IS 'not personal: why the case is at the top of its officer''s board';
