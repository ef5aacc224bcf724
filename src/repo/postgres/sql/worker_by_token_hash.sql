SELECT id FROM workers WHERE token_hash = $1
