-- Personal data (docs/privacy.md): the crisis center's tables hold no data about travellers (those live in the
-- Faust tables, which follow the compacted travellers.registrations topic); only the subject ids of staff.
COMMENT ON COLUMN crises.activated_by IS 'personal: staff subject id (or the worker)';
COMMENT ON COLUMN crises.closed_by IS 'personal: staff subject id (or the worker)';
COMMENT ON COLUMN crisis_timeline.actor IS 'personal: staff subject id (or the worker)';
COMMENT ON COLUMN thresholds.updated_by IS 'personal: staff subject id';
COMMENT ON COLUMN audit_log.actor IS 'personal: staff subject id';
COMMENT ON COLUMN crises.title IS 'not personal: incident title';
COMMENT ON COLUMN crises.hotline_number IS 'not personal: the ministry hotline';
