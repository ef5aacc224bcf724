//! Every SQL statement of the SQLite repository, by name; each one's text is `sql/<name>.sql`
//! beside this file (the list is shared with PostgreSQL, see `repo/statements.rs`).

crate::repo::statements::dialect_statements! {}
