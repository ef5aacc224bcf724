-- Nothing to change on PostgreSQL: its planner, with the statistics autovacuum keeps, already
-- walks the partial indexes of V1 and V3 for every query of a scheduler pass (custom and
-- generic plans alike). SQLite's V5 re-leads those indexes with their status because its
-- planner, without statistics, preferred `jobs_status_id` and a sort. This file keeps the two
-- dialects' migration numbers in step. See docs/query-plans.md.
SELECT 1;
