INSERT INTO uploads (id, filename, size, sha256, content, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
