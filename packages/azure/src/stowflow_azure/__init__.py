"""stowflow-azure: the azure provider plugin for stowflow."""

__all__: list[str] = []
