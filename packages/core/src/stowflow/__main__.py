"""``python -m stowflow``: the same as the ``stowflow`` command."""

from stowflow.cli import main

main()
