-- Where registered travellers are (from travellers.registrations), so that an SMS or a voicemail from a
-- traveller's phone opens a case located where the traveller stays, not in the country of the number.
CREATE TABLE registered_travellers (
    traveller_id text PRIMARY KEY,
    phone        text,
    language     text NOT NULL,
    country      text NOT NULL,
    city         text,
    lat          double precision,
    lon          double precision,
    departure    date NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registered_travellers_phone ON registered_travellers (phone) WHERE phone IS NOT NULL;
