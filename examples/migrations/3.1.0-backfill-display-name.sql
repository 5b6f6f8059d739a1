-- Copies the legacy name into display_name, batch by batch (the runtime repeats the
-- statement until no row changes).
UPDATE accounts
SET display_name = first_name || ' ' || last_name
WHERE id IN (
  SELECT id FROM accounts
  WHERE display_name IS NULL
  LIMIT 5000
);
