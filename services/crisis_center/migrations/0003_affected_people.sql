-- Where the affected people of an active crisis are, for the dashboard's map (the API cannot read the worker's
-- Faust tables). One row per record (registration or report) counted in the incident; records about one person
-- share `person`, and the API returns one point per person. Positions are rounded to 2 decimals (~1 km) by the
-- worker; no name, phone or email is stored. Rows leave when the record leaves the area and when the crisis
-- closes; the worker rewrites an active crisis's rows at every tick, so they converge whatever happened.
CREATE TABLE IF NOT EXISTS affected_people (
    incident_id     text             NOT NULL,
    contribution_id text             NOT NULL,  -- registration:<traveller_id> | report:<reference>; never served
    person          text             NOT NULL,
    source          text             NOT NULL CHECK (source IN ('registration', 'report')),
    lat             double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon             double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    PRIMARY KEY (incident_id, contribution_id)
);

COMMENT ON COLUMN affected_people.contribution_id IS 'personal: traveller id or case reference behind a point';
COMMENT ON COLUMN affected_people.person IS 'personal: the key that merges records about one person';
COMMENT ON COLUMN affected_people.lat IS 'personal: where an affected person is, rounded to ~1 km';
COMMENT ON COLUMN affected_people.lon IS 'personal: as lat';
