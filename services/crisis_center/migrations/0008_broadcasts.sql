-- Coordinators' broadcasts (issue 23): follow-up messages and the all-clear, under the two-person rule. One row
-- per broadcast; its texts are those of its current version (an edit replaces them and raises `version`). Every
-- create, edit, approval, rejection and expiry is in audit_log (action 'broadcast.*', detail.broadcast_id).
-- No address is stored: the people are read from crisis_contacts when the broadcast is approved.
CREATE TABLE IF NOT EXISTS broadcasts (
    broadcast_id text PRIMARY KEY,
    crisis_id    text        NOT NULL REFERENCES crises (crisis_id),
    kind         text        NOT NULL CHECK (kind IN ('followup', 'all_clear')),
    status       text        NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    audience     text        NOT NULL CHECK (audience IN ('everyone', 'not_answered', 'needs_help', 'area')),
    polygon      jsonb,                    -- [lon, lat] corners when the audience is 'area'
    texts        jsonb       NOT NULL,     -- language -> text given ({} for the all-clear: its template's)
    fallback     text[]      NOT NULL DEFAULT '{}',  -- languages explicitly sent the English text
    version      integer     NOT NULL CHECK (version >= 1),
    author       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    edited_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    decided_by   text,
    decided_at   timestamptz,
    reason       text,
    sent_people  integer,
    sent_messages integer,
    CHECK ((audience = 'area') = (polygon IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS broadcasts_crisis ON broadcasts (crisis_id, created_at DESC);
CREATE INDEX IF NOT EXISTS broadcasts_pending ON broadcasts (expires_at) WHERE status = 'pending';

COMMENT ON COLUMN broadcasts.author IS 'personal: staff subject id of the coordinator who wrote the broadcast';
COMMENT ON COLUMN broadcasts.decided_by IS 'personal: staff subject id of the coordinator who approved or rejected';
COMMENT ON COLUMN broadcasts.texts IS 'not personal: the message written for everyone reached';
COMMENT ON COLUMN broadcasts.polygon IS 'not personal: the drawn area of the audience';
COMMENT ON COLUMN broadcasts.reason IS 'not personal: why a coordinator rejected the broadcast';
