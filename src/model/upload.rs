//! A job's input file as stored.

/// One row of `uploads`: an input file with its bytes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRecord {
    /// Upload id (a UUID).
    pub id: String,
    /// Sanitized file name.
    pub filename: String,
    /// Size in bytes.
    pub size: i64,
    /// Hex SHA-256 of the bytes, served as the ETag.
    pub sha256: String,
    /// The file's content.
    pub content: Vec<u8>,
    /// Upload time (epoch ms).
    pub created_at: i64,
}
