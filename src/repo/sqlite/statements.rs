//! Every SQL statement of the SQLite repository, by name; each one's text is `sql/<name>.sql`
//! beside this file (the list is shared with PostgreSQL, see `repo/statements.rs`), plus the
//! online copy and the compaction only SQLite makes itself.

crate::repo::statements::dialect_statements! {
    /// Writes a consistent copy of the whole database to the file `$1` (which must not exist),
    /// from one read snapshot: writers carry on meanwhile.
    DATABASE_BACKUP => "database_backup.sql",

    /// Gives up to 4096 free pages back to the file system.
    DATABASE_COMPACT => "database_compact.sql",
}
