"""stowflow-github: the github provider plugin for stowflow."""

__all__: list[str] = []
