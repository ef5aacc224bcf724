-- Tells every replica listening on the wake channel which workers have news; $1 is the channel,
-- $2 the payload. Delivered when this (autocommit) statement commits.
SELECT pg_notify($1, $2)
