-- Crises, their timeline, thresholds set at run time, the audit of coordinators' actions, operational alerts.
CREATE TABLE IF NOT EXISTS crises (
    crisis_id          text PRIMARY KEY,
    incident_id        text UNIQUE,                 -- one crisis per incident, ever; NULL for manual crises
    title              text        NOT NULL,
    kind               text        NOT NULL,
    severity           text,
    status             text        NOT NULL CHECK (status IN ('active', 'closed')),
    affected_count     integer     NOT NULL DEFAULT 0 CHECK (affected_count >= 0),
    count_registrations integer    NOT NULL DEFAULT 0,
    count_reports      integer     NOT NULL DEFAULT 0,
    threshold          integer     NOT NULL CHECK (threshold >= 1),
    hotline_number     text        NOT NULL,
    hotline_from_pool  boolean     NOT NULL,
    area               jsonb       NOT NULL,
    activated_at       timestamptz NOT NULL,
    updated_at         timestamptz,
    closed_at          timestamptz,
    activated_by       text        NOT NULL,
    closed_by          text
);
-- No two active crises share a pool number (the general number may be shared when the pool is exhausted).
CREATE UNIQUE INDEX IF NOT EXISTS crises_active_pool_hotline
    ON crises (hotline_number) WHERE status = 'active' AND hotline_from_pool;
CREATE INDEX IF NOT EXISTS crises_status ON crises (status, activated_at DESC);

CREATE TABLE IF NOT EXISTS crisis_timeline (
    id             bigserial PRIMARY KEY,
    crisis_id      text        NOT NULL REFERENCES crises (crisis_id),
    at             timestamptz NOT NULL,
    event          text        NOT NULL,            -- activated, updated, closed, notified
    actor          text        NOT NULL,
    affected_count integer,
    detail         jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS crisis_timeline_crisis ON crisis_timeline (crisis_id, id);

-- Threshold set by coordinators; severity 'default' holds the default. Rows override CRISIS_THRESHOLD.
CREATE TABLE IF NOT EXISTS thresholds (
    severity   text PRIMARY KEY CHECK (severity IN ('default', 'minor', 'moderate', 'severe', 'extreme')),
    value      integer     NOT NULL CHECK (value >= 1),
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_log (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL,
    actor  text        NOT NULL,
    action text        NOT NULL,
    target text,
    detail jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE IF NOT EXISTS alerts (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL,
    kind   text        NOT NULL,
    detail jsonb       NOT NULL DEFAULT '{}'::jsonb
);
