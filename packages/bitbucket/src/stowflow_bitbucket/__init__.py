"""stowflow-bitbucket: the bitbucket provider plugin for stowflow."""

__all__: list[str] = []
