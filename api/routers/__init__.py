"""One router per area of the HTTP API: ask/search, learning, review, ops (health, stats, keys)."""
