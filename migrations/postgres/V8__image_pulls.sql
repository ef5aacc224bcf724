-- When the worker pulls the job's image ('if-not-present', 'always', 'never'); NULL: the
-- worker's own default (--pull-policy).
ALTER TABLE jobs ADD COLUMN pull TEXT;
-- What a RUNNING job is doing before its command runs (e.g. 'pulling python:3.12'); NULL
-- once the command runs, and in every other state.
ALTER TABLE jobs ADD COLUMN phase TEXT;
-- The images the worker's engine holds, from its heartbeats: a JSON array of
-- {"reference", "digest"} (bounded by the server); NULL until one said.
ALTER TABLE workers ADD COLUMN images TEXT;
