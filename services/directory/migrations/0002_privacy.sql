-- Personal data (docs/privacy.md): only the subject ids of the staff who changed a post.
COMMENT ON COLUMN post_overrides.updated_by IS 'personal: staff subject id';
COMMENT ON COLUMN post_changes.changed_by IS 'personal: staff subject id';
