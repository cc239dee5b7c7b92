"""Real-server fixture: azurite (being written)."""
