"""Block type slugs: ``GitHubCredentials`` → ``github-credentials``."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\b|[0-9_])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+[A-Za-z]*")


def slugify(text: str) -> str:
    """Return ``text`` lower-cased with runs of non-alphanumerics folded into single dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def words_of_class_name(class_name: str) -> list[str]:
    """Split a CamelCase class name into words (``S3Bucket`` → ``['S3', 'Bucket']``)."""
    return _WORD.findall(class_name)


def display_name(class_name: str) -> str:
    """Return the display name derived from a class name (``AwsCredentials`` → ``Aws Credentials``)."""
    return " ".join(words_of_class_name(class_name))
