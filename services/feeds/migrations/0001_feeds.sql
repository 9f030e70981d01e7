-- The feeds worker's memory of what it published (docs/feeds.md): one row per incident and one per feed event
-- that names or enriches it, so that a restart or a second replica publishes nothing twice. No personal data:
-- public alerts about natural hazards only.
CREATE TABLE IF NOT EXISTS incidents (
    incident_id  text        PRIMARY KEY,
    country      text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('open', 'closed')),
    published    jsonb       NOT NULL,
    revision     integer     NOT NULL CHECK (revision >= 1),
    reported_at  timestamptz NOT NULL,
    changed_at   timestamptz NOT NULL,
    closed_at    timestamptz,
    close_reason text        CHECK (close_reason IN ('left_feed', 'ttl'))
);
COMMENT ON TABLE incidents IS 'Incidents published on crisis.incidents from the GDACS and USGS feeds.';
COMMENT ON COLUMN incidents.incident_id IS 'not personal: gdacs:<eventtype>:<eventid> or usgs:<id>, named by the first source';
COMMENT ON COLUMN incidents.country IS 'not personal: ISO 3166-1 alpha-2 country of the hazard';
COMMENT ON COLUMN incidents.status IS 'not personal: open, or closed (final)';
COMMENT ON COLUMN incidents.published IS 'not personal: data of the last incident.reported/updated event (title, kind, severity, area of a hazard)';
COMMENT ON COLUMN incidents.revision IS 'not personal: events published for the incident; with its id, the event id';
COMMENT ON COLUMN incidents.reported_at IS 'not personal: when incident.reported was written';
COMMENT ON COLUMN incidents.changed_at IS 'not personal: last reported or updated event; FEED_INCIDENT_TTL_HOURS counts from here';
COMMENT ON COLUMN incidents.closed_at IS 'not personal: when incident.closed was written';
COMMENT ON COLUMN incidents.close_reason IS 'not personal: left_feed or ttl';

CREATE TABLE IF NOT EXISTS sources (
    source_id     text        PRIMARY KEY,
    feed          text        NOT NULL CHECK (feed IN ('gdacs', 'usgs')),
    incident_id   text        NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    episode       text,
    signature     jsonb       NOT NULL,
    event         jsonb       NOT NULL,
    polygon       jsonb,
    absent_polls  integer     NOT NULL DEFAULT 0,
    gone          boolean     NOT NULL DEFAULT false,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_incident ON sources (incident_id);
CREATE UNIQUE INDEX IF NOT EXISTS sources_one_per_feed ON sources (incident_id, feed);
COMMENT ON TABLE sources IS 'Feed events that name or enrich an incident, as last seen.';
COMMENT ON COLUMN sources.source_id IS 'not personal: gdacs:<eventtype>:<eventid> or usgs:<id>';
COMMENT ON COLUMN sources.feed IS 'not personal: gdacs or usgs';
COMMENT ON COLUMN sources.incident_id IS 'not personal: the incident it names or enriches';
COMMENT ON COLUMN sources.episode IS 'not personal: GDACS episode id last seen';
COMMENT ON COLUMN sources.signature IS 'not personal: episode, alert level, magnitude and area last published for it';
COMMENT ON COLUMN sources.event IS 'not personal: the feed item as last seen, normalised (hazard, place, time, magnitude)';
COMMENT ON COLUMN sources.polygon IS 'not personal: the GDACS event polygon of its episode, [[lon, lat], ...]';
COMMENT ON COLUMN sources.absent_polls IS 'not personal: successful reads in a row without it';
COMMENT ON COLUMN sources.gone IS 'not personal: left its feed';
COMMENT ON COLUMN sources.first_seen_at IS 'not personal: first read';
COMMENT ON COLUMN sources.last_seen_at IS 'not personal: last read in its feed; forgotten 14 days after, once closed';

-- A GDACS event geometry is fetched once per episode: the polygon, or null when the episode links none usable.
CREATE TABLE IF NOT EXISTS geometries (
    source_id  text        NOT NULL,
    episode    text        NOT NULL,
    polygon    jsonb,
    fetched_at timestamptz NOT NULL,
    PRIMARY KEY (source_id, episode)
);
COMMENT ON TABLE geometries IS 'GDACS event polygons, fetched once per episode.';
COMMENT ON COLUMN geometries.source_id IS 'not personal: gdacs:<eventtype>:<eventid>';
COMMENT ON COLUMN geometries.episode IS 'not personal: GDACS episode id';
COMMENT ON COLUMN geometries.polygon IS 'not personal: [[lon, lat], ...] of a hazard, or null: none usable';
COMMENT ON COLUMN geometries.fetched_at IS 'not personal: when it was fetched';
