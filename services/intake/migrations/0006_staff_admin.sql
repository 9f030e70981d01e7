-- Officers and the on-call roster managed through the admin API (GET/POST/PATCH /v1/admin/officers and
-- /v1/admin/roster), every change audited.

-- An officer who left is ended, never deleted: cases and messages keep pointing at them.
ALTER TABLE officers ADD COLUMN ended_at timestamptz;

-- Overlapping roster entries must say which wins: the entry with the higher precedence covers the overlap
-- (a replacement shift over the standing rota); two overlapping entries of equal precedence are refused.
ALTER TABLE on_call_roster ADD COLUMN precedence int NOT NULL DEFAULT 0;
ALTER TABLE on_call_roster ADD COLUMN note text;

-- Who changed officers or the roster, when, and what the row looked like afterwards.
CREATE TABLE admin_audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,     -- officer.add, officer.change, officer.end, roster.add, roster.change, roster.end
    target  text        NOT NULL,     -- officer:<id> or roster:<id>
    detail  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX admin_audit_target ON admin_audit (target, id);

COMMENT ON COLUMN admin_audit.actor IS 'personal: staff subject id of the admin who made the change';
COMMENT ON COLUMN admin_audit.detail IS 'personal: the officer or roster row changed (staff names and work contacts)';
COMMENT ON COLUMN on_call_roster.note IS 'not personal: a planning note (why the entry exists); staff are asked to name no one';
