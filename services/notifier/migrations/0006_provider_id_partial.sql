-- The provider's id is unique where there is one. A full unique index also holds an entry for every row still
-- without one (btree indexes keep NULLs): one index entry more per stored command, for nothing. Schema only.
CREATE UNIQUE INDEX IF NOT EXISTS notifications_provider_id ON notifications (provider_id)
    WHERE provider_id IS NOT NULL;
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_provider_id_key;
