"""stowflow-gcp: the gcp provider plugin for stowflow."""

__all__: list[str] = []
