"""stowflow-gitlab: the gitlab provider plugin for stowflow."""

__all__: list[str] = []
