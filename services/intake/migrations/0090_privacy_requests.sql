-- Requests from a person (access, erasure) that intake coordinates, and every service's answer to them.
-- A case under legal hold is reported to an erasure request, never erased (nor anonymised by retention).
ALTER TABLE reports ADD COLUMN IF NOT EXISTS legal_hold boolean NOT NULL DEFAULT false;

CREATE TABLE IF NOT EXISTS privacy_requests (
    request_id     text PRIMARY KEY,
    kind           text        NOT NULL CHECK (kind IN ('access', 'erasure')),
    traveller_ids  text[]      NOT NULL DEFAULT '{}',
    phones         text[]      NOT NULL DEFAULT '{}',
    emails         text[]      NOT NULL DEFAULT '{}',
    requested_by   text        NOT NULL,
    requested_at   timestamptz NOT NULL,
    completed_at   timestamptz
);

-- One answer per service and request (a redelivered answer changes nothing).
CREATE TABLE IF NOT EXISTS privacy_responses (
    request_id   text        NOT NULL REFERENCES privacy_requests ON DELETE CASCADE,
    service      text        NOT NULL,
    answered_at  timestamptz NOT NULL,
    items        jsonb       NOT NULL,
    PRIMARY KEY (request_id, service)
);
