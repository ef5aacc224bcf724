-- Jobs in each state that is not final, each counted from its own partial index (the
-- final states would be a count of the whole table; /metrics reports their endings as a
-- counter instead).
SELECT 'PENDING', COUNT(*) FROM jobs WHERE status = 'PENDING'
UNION ALL
SELECT 'QUEUED', (SELECT COUNT(*) FROM jobs WHERE status = 'QUEUED' AND blocked = 0)
    + (SELECT COUNT(*) FROM jobs WHERE status = 'QUEUED' AND blocked = 1)
UNION ALL
SELECT 'ASSIGNED', COUNT(*) FROM jobs WHERE status = 'ASSIGNED'
UNION ALL
SELECT 'RUNNING', COUNT(*) FROM jobs WHERE status = 'RUNNING'
