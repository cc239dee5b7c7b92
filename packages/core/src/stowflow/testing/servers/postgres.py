"""Real-server fixture: postgres (being written)."""
