"""Real-server fixture: git_http (being written)."""
