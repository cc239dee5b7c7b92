"""Blocks: typed configuration saved by name, with secrets encrypted at rest."""

from stowflow.blocks.core import Block
from stowflow.blocks.secret import Secret
from stowflow.blocks.types import get_block_class, register_module

__all__ = ["Block", "Secret", "get_block_class", "register_module"]
