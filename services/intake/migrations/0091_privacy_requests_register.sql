-- The identifiers a person gave in a request, and the services' answers (an export is personal data).
COMMENT ON COLUMN privacy_requests.traveller_ids IS 'personal: the person''s traveller ids named in the request';
COMMENT ON COLUMN privacy_requests.phones IS 'personal: the person''s phones named or linked';
COMMENT ON COLUMN privacy_requests.emails IS 'personal: the person''s emails named or linked';
COMMENT ON COLUMN privacy_requests.requested_by IS 'personal: admin subject id who asked (accountability)';
COMMENT ON COLUMN privacy_responses.items IS 'personal: each service''s export or erasure report';
