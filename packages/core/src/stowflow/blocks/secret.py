"""The ``Secret`` block: one secret value, stored encrypted."""

from __future__ import annotations

from pydantic import Field, SecretStr

from stowflow.blocks.core import Block


class Secret(Block):
    """A single secret string (a token, a password), encrypted at rest.

    ``Secret(value="…").save("name")``; ``Secret.load("name").get()``.
    """

    value: SecretStr = Field(description="The secret value; stored encrypted, shown masked.")

    def get(self) -> str:
        """Return the secret value in plain text."""
        return self.value.get_secret_value()
