-- Letters (replies to requests that came by post): who printed and posted each one.
ALTER TABLE print_queue ADD COLUMN posted_by text;
COMMENT ON COLUMN print_queue.posted_by IS 'personal: staff subject id of the officer who printed and posted the letter';
CREATE INDEX print_queue_waiting ON print_queue (created_at) WHERE printed_at IS NULL;
