-- The rollup rows of the hours in [$1, $2): the hours' totals (image and worker '*') when $3,
-- else the full rows.
SELECT * FROM job_rollups WHERE hour >= $1 AND hour < $2 AND (image = '*') = $3
