-- A worker shutting down says so in its heartbeats: it finishes what it runs and gets nothing new.
ALTER TABLE workers ADD COLUMN draining BIGINT NOT NULL DEFAULT 0;
