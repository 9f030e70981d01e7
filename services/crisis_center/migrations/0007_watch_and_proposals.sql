-- Issue 22: where an incident came from (its source and event page), the watch list of open incidents with their
-- live counts (written by the worker, read by the API: the counts below the threshold live in the worker's Faust
-- tables), and proposals to open a crisis that a coordinator confirms or dismisses (activation mode `proposed`).
ALTER TABLE crises ADD COLUMN IF NOT EXISTS source text
    CHECK (source IN ('gdacs', 'usgs', 'feed', 'external', 'manual'));
ALTER TABLE crises ADD COLUMN IF NOT EXISTS link text;

COMMENT ON COLUMN crises.source IS 'not personal: where the incident came from (gdacs, usgs, feed, external, manual)';
COMMENT ON COLUMN crises.link IS 'not personal: the public page of the event at its source';

-- One row per open incident, rewritten by the worker when its count, threshold or facts change (throttled) and at
-- every tick (so it converges after any failure); deleted when the incident closes. Counts only: no people.
CREATE TABLE IF NOT EXISTS watched_incidents (
    incident_id         text PRIMARY KEY,
    title               text        NOT NULL,
    kind                text        NOT NULL,
    severity            text        NOT NULL,
    country             text        NOT NULL,
    area                jsonb       NOT NULL,
    origin              text        NOT NULL CHECK (origin IN ('gdacs', 'usgs', 'feed', 'external')),
    link                text,
    occurred_at         timestamptz NOT NULL,
    affected_count      integer     NOT NULL CHECK (affected_count >= 0),
    count_registrations integer     NOT NULL DEFAULT 0,
    count_reports       integer     NOT NULL DEFAULT 0,
    threshold           integer     NOT NULL CHECK (threshold >= 1),
    mode                text        NOT NULL CHECK (mode IN ('automatic', 'proposed')),
    updated_at          timestamptz NOT NULL
);

COMMENT ON COLUMN watched_incidents.title IS 'not personal: incident title';
COMMENT ON COLUMN watched_incidents.area IS 'not personal: the incident area';
COMMENT ON COLUMN watched_incidents.origin IS 'not personal: where the incident came from';
COMMENT ON COLUMN watched_incidents.link IS 'not personal: the public page of the event at its source';
COMMENT ON COLUMN watched_incidents.affected_count IS 'not personal: how many people are in the area (a count)';

-- A proposal per incident (its latest round: a dismissed one may be proposed again once the severity changes).
-- `applied_at`: the worker has carried the decision out (confirmed: the crisis exists; dismissed: no proposal
-- again at this severity); `escalated_at`: the on-call coordinator was told, in the transaction that enqueued the
-- SMS (once per round, even across restarts).
CREATE TABLE IF NOT EXISTS proposals (
    incident_id    text PRIMARY KEY,
    crisis_id      text        NOT NULL,  -- the id the crisis will have (derived from the incident)
    round          integer     NOT NULL CHECK (round >= 1),
    title          text        NOT NULL,
    severity       text        NOT NULL,
    origin         text        NOT NULL,
    country        text        NOT NULL,
    affected_count integer     NOT NULL,
    threshold      integer     NOT NULL,
    status         text        NOT NULL CHECK (status IN ('pending', 'confirmed', 'dismissed', 'superseded',
                                                          'withdrawn')),
    proposed_at    timestamptz NOT NULL,
    escalated_at   timestamptz,
    decided_at     timestamptz,
    decided_by     text,
    applied_at     timestamptz
);
CREATE INDEX IF NOT EXISTS proposals_pending ON proposals (proposed_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS proposals_unapplied ON proposals (decided_at)
    WHERE status IN ('confirmed', 'dismissed') AND applied_at IS NULL;

COMMENT ON COLUMN proposals.title IS 'not personal: incident title';
COMMENT ON COLUMN proposals.affected_count IS 'not personal: how many people were in the area when proposed';
COMMENT ON COLUMN proposals.decided_by IS 'personal: staff subject id of the coordinator who decided';
