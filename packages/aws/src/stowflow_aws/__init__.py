"""stowflow-aws: the aws provider plugin for stowflow."""

__all__: list[str] = []
