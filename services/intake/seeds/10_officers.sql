-- Local placeholder officers (make run, make demo, the tests): the ministry's switchboard numbers and
-- .example addresses. Never applied in production, where officers are added through /v1/admin/officers.
-- Idempotent: nothing is added once the table holds any officer.
INSERT INTO officers (name, role, phone, email, post_id, kinds, team)
SELECT v.name, v.role, v.phone, v.email, NULL, v.kinds::text[], v.team
FROM (VALUES
    ('Duty Officer A', 'Consular officer', '+3225010001', 'duty.a@diplomatie.example', '{}', 'consular'),
    ('Duty Officer B', 'Consular officer', '+3225010002', 'duty.b@diplomatie.example', '{}', 'consular'),
    ('Detention Desk', 'Consular officer (detention)', '+3225010003', 'detention@diplomatie.example', '{detention}',
     'consular'),
    ('Quality Team', 'Complaints officer', '+3225010004', 'quality@diplomatie.example', '{}', 'quality')
) AS v(name, role, phone, email, kinds, team)
WHERE NOT EXISTS (SELECT 1 FROM officers);

-- The local console sign-in: `duty` / `duty-local` is Duty Officer A (docs/ui.md).
UPDATE officers SET login = 'duty',
    password_hash = 'pbkdf2_sha256.260000.1PaTzrcUT5jVIXFKBO6pIQ.PZtlElXQmA5hZgh2M6pxc5cD_56qL5VR1cF7uhHXJ0o'
WHERE email = 'duty.a@diplomatie.example' AND login IS NULL
  AND NOT EXISTS (SELECT 1 FROM officers WHERE login = 'duty');
