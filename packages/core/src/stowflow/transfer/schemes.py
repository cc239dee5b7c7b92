"""Who owns a URL scheme: one declared table, like fsspec's ``known_implementations``.

:data:`KNOWN_SCHEMES` names, for every object-store scheme of an official provider, the
distribution that implements it. It is read by everything that needs to know who owns a
URL — the providers' own ``stowflow_object_store_for_url`` hooks (which claim exactly the
schemes the table gives their distribution), the install hint for a scheme nothing
installed claims, and :func:`is_claimed` (whether a URL is an object-store URL at all,
answered without building a client). A third-party store adds its schemes through the
``stowflow_register_url_schemes`` hook instead of editing this table.

:func:`scheme_of` is the one URL-scheme parser: every module that asks "which scheme is
this?" (the storage resolver, the local-folder claim, the object-store hooks) calls it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stowflow.errors import PluginError
from stowflow.plugins import Collected, get_plugin_manager

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")

#: Schemes that are never object stores (git remotes, web pages).
NOT_OBJECT_STORES = frozenset({"http", "https", "ssh", "git", "git+ssh", "git+https"})


def scheme_of(url: str) -> str:
    """Return the lowercased scheme of ``url``, or ``""`` when it has none.

    A scheme is what comes before ``://``, spelled as RFC 3986 allows (a letter, then
    letters, digits, ``+``, ``-``, ``.``), so plain paths, Windows drives (``C:\\code``)
    and scp-like git remotes (``git@host:org/repo``) have none.
    """
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep and _SCHEME.fullmatch(scheme) else ""


@dataclass(frozen=True)
class SchemeOwner:
    """The distribution that implements a scheme, and what to type to install it."""

    scheme: str
    distribution: str

    @property
    def install_hint(self) -> str:
        """``pip install <distribution>``."""
        return f"pip install {self.distribution}"


def _table(owners: dict[str, tuple[str, ...]]) -> dict[str, SchemeOwner]:
    return {scheme: SchemeOwner(scheme, dist)
            for dist, schemes in owners.items() for scheme in schemes}


#: scheme → owner, for the official providers. Lowercase schemes.
KNOWN_SCHEMES: dict[str, SchemeOwner] = _table({
    "stowflow-aws": ("s3", "s3a"),
    "stowflow-gcp": ("gs", "gcs"),
    "stowflow-azure": ("az", "abfs", "abfss"),
})

def _collect_registered() -> dict[str, SchemeOwner]:
    found: dict[str, SchemeOwner] = {}

    def register(scheme: str, distribution: str) -> None:
        key = scheme.lower()
        known = KNOWN_SCHEMES.get(key) or found.get(key)
        if known is not None and known.distribution != distribution:
            raise PluginError(f"URL scheme '{key}://' is claimed by both "
                              f"{known.distribution} and {distribution}")
        found[key] = SchemeOwner(key, distribution)

    get_plugin_manager().hook.stowflow_register_url_schemes(register=register)
    return found


_registered = Collected(_collect_registered)


def reset() -> None:
    """Forget the schemes plugins registered (the plugin manager was rebuilt)."""
    _registered.reset()


def _registered_schemes() -> dict[str, SchemeOwner]:
    return dict(_registered.get())


def owner_of(scheme: str) -> SchemeOwner | None:
    """Return who implements ``scheme`` (installed or not), or ``None`` when nobody is known."""
    key = scheme.lower()
    return KNOWN_SCHEMES.get(key) or _registered_schemes().get(key)


def schemes_of(distribution: str) -> tuple[str, ...]:
    """Return the schemes the table gives ``distribution`` (``("s3", "s3a")`` for stowflow-aws)."""
    table = {**_registered_schemes(), **KNOWN_SCHEMES}
    return tuple(sorted(s for s, owner in table.items() if owner.distribution == distribution))


def owned_by(url: str, distribution: str) -> bool:
    """Whether ``url``'s scheme belongs to ``distribution``: the test a provider's hook makes."""
    owner = KNOWN_SCHEMES.get(scheme_of(url))
    return owner is not None and owner.distribution == distribution


def scheme_hints() -> dict[str, str]:
    """Return ``{scheme: distribution}`` for every known scheme (for ``install_hints()``)."""
    return {s: owner.distribution for s, owner in {**_registered_schemes(),
                                                   **KNOWN_SCHEMES}.items()}


def _loaded_distributions() -> set[str]:
    from stowflow.plugins import plugin_infos

    return {info.distribution for info in plugin_infos()
            if info.distribution and info.error is None and not info.builtin}


def is_claimed(url: str, *, fsspec_knows: Callable[[str], bool] | None = None) -> bool:
    """Whether some installed store handles ``url`` — decided from tables, building nothing.

    True when the scheme's owner (from the table or a plugin's registration) is a loaded
    plugin, or when fsspec has a filesystem class for it (core's fallback store).
    """
    scheme = scheme_of(url)
    if not scheme or scheme in NOT_OBJECT_STORES:
        return False
    owner = owner_of(scheme)
    if owner is not None and owner.distribution in _loaded_distributions():
        return True
    return (fsspec_knows or _fsspec_knows)(scheme)


def _fsspec_knows(scheme: str) -> bool:
    import fsspec

    try:
        fsspec.get_filesystem_class(scheme)
    except (ValueError, ImportError):
        return False
    return True
