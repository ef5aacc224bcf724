SELECT COALESCE(MAX(cpu_milli), 0),
    COALESCE(MAX(ram_total_mb), 0), COUNT(*) FROM workers WHERE offline_since IS NULL
