-- The directory's own state. The posts themselves come from the committed seed (services/directory/seed);
-- the database keeps what admins and coordinators change, the audit of every change, and the routings.

-- Current state of each changed post: opening hours, suspended services, temporary closure.
CREATE TABLE IF NOT EXISTS post_overrides (
    post_id     text        PRIMARY KEY,
    state       jsonb       NOT NULL,
    version     bigint      NOT NULL DEFAULT 1,
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Audit: one row per change, with the state before and after and who made it (a subject id, not a name).
CREATE TABLE IF NOT EXISTS post_changes (
    id          bigserial   PRIMARY KEY,
    post_id     text        NOT NULL,
    change      text        NOT NULL,
    payload     jsonb       NOT NULL,
    before      jsonb       NOT NULL,
    after       jsonb       NOT NULL,
    changed_by  text        NOT NULL,
    roles       text[]      NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS post_changes_by_post ON post_changes (post_id, changed_at);

-- The post each case was routed to (ids only; no personal data).
CREATE TABLE IF NOT EXISTS routings (
    reference       text        PRIMARY KEY,
    kind            text        NOT NULL,
    service         text        NOT NULL,
    country         text        NOT NULL,
    post_id         text,
    basis           text,
    eu_member_state text,
    distance_km     double precision,
    routed_at       timestamptz NOT NULL DEFAULT now()
);
