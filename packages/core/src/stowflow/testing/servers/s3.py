"""Real-server fixture: s3 (being written)."""
