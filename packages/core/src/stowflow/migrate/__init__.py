"""Bringing deployments over from other tools (``stowflow migrate``)."""

from __future__ import annotations

from stowflow.migrate.prefect import (
    Migration,
    MigrationItem,
    NeededBlock,
    migrate_prefect_file,
    rename_prefectignore,
)

__all__ = ["Migration", "MigrationItem", "NeededBlock", "migrate_prefect_file",
           "rename_prefectignore"]
