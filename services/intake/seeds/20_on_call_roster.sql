-- A local on-call rota (make run, make demo): Duty Officer A on call, B as backup, from the start of the day
-- the seed first runs for ten years. Idempotent: nothing is added once the roster holds any entry.
INSERT INTO on_call_roster (starts_at, ends_at, officer_id, backup_officer_id, note)
SELECT date_trunc('day', now()), date_trunc('day', now()) + interval '3650 days', a.officer_id, b.officer_id,
       'local seed'
FROM officers a, officers b
WHERE a.email = 'duty.a@diplomatie.example' AND b.email = 'duty.b@diplomatie.example'
  AND NOT EXISTS (SELECT 1 FROM on_call_roster);
