"""``python -m stowflow.cli``: the same as the ``stowflow`` command."""

from stowflow.cli import main

main()
