PRAGMA incremental_vacuum(4096)
