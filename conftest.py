"""Root conftest: every test in the monorepo gets stowflow's isolation fixtures."""

pytest_plugins = ["stowflow.testing.fixtures"]
