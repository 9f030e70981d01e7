-- Personal data: every column holding personal data says so in a comment that starts with 'personal:' (the
-- register in docs/privacy.md lists each one, and tests/shared/test_privacy_register.py checks both agree);
-- columns whose names look personal but are not say 'not personal:'.

-- Retention: closed cases are anonymised (anonymised_at), registrations past departure are deleted and their
-- tombstones published from `traveller_tombstones` (an outbox of null values: the outbox table needs a payload).
ALTER TABLE reports ADD COLUMN IF NOT EXISTS anonymised_at timestamptz;
-- A case under legal hold is never anonymised by retention (the erasure flow reports it and keeps it too).
ALTER TABLE reports ADD COLUMN IF NOT EXISTS legal_hold boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS reports_closed_not_anonymised ON reports (closed_at)
    WHERE status = 'closed' AND anonymised_at IS NULL;
CREATE INDEX IF NOT EXISTS registered_travellers_departure ON registered_travellers (departure);

CREATE TABLE IF NOT EXISTS traveller_tombstones (
    traveller_id text PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- What each retention run did: counts only, never the data.
CREATE TABLE IF NOT EXISTS retention_runs (
    id        bigserial PRIMARY KEY,
    job       text        NOT NULL,
    ran_at    timestamptz NOT NULL DEFAULT now(),
    cutoff    jsonb       NOT NULL,
    counts    jsonb       NOT NULL
);

-- Who read which detention or missing-person case, and when (visible to admins: GET /v1/audit/reads).
CREATE TABLE IF NOT EXISTS case_reads (
    id         bigserial PRIMARY KEY,
    reference  text        NOT NULL,
    kind       text        NOT NULL,
    actor      text        NOT NULL,
    roles      text[]      NOT NULL,
    read_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS case_reads_reference ON case_reads (reference, read_at);

COMMENT ON COLUMN officers.name IS 'personal: staff name, on case messages';
COMMENT ON COLUMN officers.phone IS 'personal: staff work phone, on case messages';
COMMENT ON COLUMN officers.email IS 'personal: staff work email, on case messages';
COMMENT ON COLUMN reports.reporter IS 'personal: reporter name, phone, email, address, language';
COMMENT ON COLUMN reports.reporter_phone IS 'personal: reporter phone, to attach later SMS to the case';
COMMENT ON COLUMN reports.subject IS 'personal: person concerned; date_of_birth encrypted (FieldCipher)';
COMMENT ON COLUMN reports.location IS 'personal: where the person is';
COMMENT ON COLUMN reports.description IS 'personal: free text; encrypted for detention and missing_person';
COMMENT ON COLUMN reports.source IS 'not personal: producer URI';
COMMENT ON COLUMN status_history.note IS 'personal: free text an officer may write';
COMMENT ON COLUMN status_history.actor IS 'personal: staff or system subject id';
COMMENT ON COLUMN messages.body IS 'personal: text sent to or received from the person';
COMMENT ON COLUMN messages.officer IS 'personal: staff card (name, work phone and email)';
COMMENT ON COLUMN idempotency_keys.principal IS 'personal: subject id of the caller (staff or system)';
COMMENT ON COLUMN print_queue.address IS 'personal: postal address of the reporter';
COMMENT ON COLUMN print_queue.subject IS 'not personal: letter subject line (reference and kind)';
COMMENT ON COLUMN print_queue.body IS 'personal: letter text with the reporter name';
COMMENT ON COLUMN print_queue.officer IS 'personal: staff card';
COMMENT ON COLUMN surveys.phone IS 'personal: phone the survey was sent to';
COMMENT ON COLUMN registered_travellers.traveller_id IS 'personal: registration id of a traveller';
COMMENT ON COLUMN registered_travellers.phone IS 'personal: traveller phone';
COMMENT ON COLUMN registered_travellers.country IS 'personal: where the traveller stays';
COMMENT ON COLUMN registered_travellers.city IS 'personal: where the traveller stays';
COMMENT ON COLUMN registered_travellers.lat IS 'personal: where the traveller stays';
COMMENT ON COLUMN registered_travellers.lon IS 'personal: where the traveller stays';
COMMENT ON COLUMN registered_travellers.departure IS 'personal: end of stay';
COMMENT ON COLUMN traveller_tombstones.traveller_id IS 'personal: registration id, until its tombstone is sent';
COMMENT ON COLUMN case_reads.actor IS 'personal: staff subject id of the reader';
COMMENT ON COLUMN active_crises.title IS 'not personal: crisis title';
