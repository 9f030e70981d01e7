-- The satisfaction survey's own page (GET/POST /public/survey/{token}): an unguessable token per case, and the
-- citizen's comment beside the 1-5 score.
ALTER TABLE surveys ADD COLUMN token text UNIQUE;
ALTER TABLE surveys ADD COLUMN comment text;
COMMENT ON COLUMN surveys.token IS 'not personal: a random capability for the survey page';
COMMENT ON COLUMN surveys.comment IS 'personal: what the citizen wrote about the service';
