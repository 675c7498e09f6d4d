-- The migrations table is created by the code that applies migrations. This
-- file marks the start of the schema history.
SELECT 1;
