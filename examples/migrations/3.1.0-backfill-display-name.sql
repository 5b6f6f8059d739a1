-- Copies the legacy name into display_name. deployc runs it in batches of 5,000 rows in
-- order of `id` (`batch 5_000`), each batch committed on its own, so a crash resumes after
-- the last batch committed and no row is copied twice.
UPDATE accounts
SET display_name = first_name || ' ' || last_name
WHERE display_name IS NULL;
