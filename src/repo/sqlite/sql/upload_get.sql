SELECT * FROM uploads WHERE id = $1
