-- Search of cases and the charter board (GET /v1/reports?q=, GET /v1/charter-board).
-- fold_text: lower case without accents, the same folding as services/intake/domain/search.py's `fold`, so that
-- "Dupont" finds "Düpont" and "Ö" finds "o". Plain SQL (translate), since the unaccent extension cannot be relied
-- on in every schema; IMMUTABLE so that it may back an index later.
CREATE OR REPLACE FUNCTION fold_text(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT translate(
        replace(replace(replace(replace(lower(t), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'), 'ĳ', 'ij'),
        'àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž',
        'aaaaaaaaacccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz')
$$;

CREATE INDEX reports_newest ON reports (received_at DESC);
CREATE INDEX reports_reference_prefix ON reports (reference text_pattern_ops);
CREATE INDEX reports_phone ON reports (reporter_phone) WHERE reporter_phone IS NOT NULL;
CREATE INDEX reports_open_reply_due ON reports (reply_due_by) WHERE status <> 'closed';
CREATE INDEX reports_open_provisional_due ON reports (provisional_reply_due_by)
    WHERE status <> 'closed' AND provisional_reply_due_by IS NOT NULL;
CREATE INDEX messages_provisional_reply ON messages (reference) WHERE purpose = 'provisional_reply';
