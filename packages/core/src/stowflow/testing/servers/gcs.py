"""Real-server fixture: gcs (being written)."""
