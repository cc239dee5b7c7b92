"""The storage-block contract, declared once: ``StorageBlock`` and ``ObjectStorageBlock``.

A *storage block* is a saved block that holds a deployment's code: ``flow.from_source``
accepts one, and the ``pull_with_block`` step loads it by name on the worker. It is
recognised by its type, :class:`StorageBlock` (one method, ``get_directory``).

:class:`ObjectStorageBlock` is the storage block of every object-store provider. It
implements the four methods — ``get_directory``, ``put_directory``, ``read_path``,
``write_path`` — and the key-safety rule once, over two things a provider supplies: its
store (:meth:`ObjectStorageBlock.object_store`) and the name of its folder field
(:attr:`ObjectStorageBlock.folder_field`). A provider's block is then its fields::

    class S3Bucket(ObjectStorageBlock):
        __block_type_name__ = "S3 Bucket"
        folder_field = "bucket_folder"

        bucket_name: str = Field(description="Name of the bucket.")
        credentials: AwsCredentials = Field(default_factory=AwsCredentials, description=...)
        bucket_folder: str = Field(default="", description=...)

        def object_store(self, **options): return S3ObjectStore(self.bucket_name, ...)
"""

from __future__ import annotations

import abc
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from stowflow.blocks.core import Block
from stowflow.errors import UnsafePathError

if TYPE_CHECKING:
    from stowflow.transfer import ObjectStore, PullResult, PushResult

#: Connections a single-object call (read_path / write_path) opens: one object, but a
#: large one still moves as a few parallel parts.
PATH_CONCURRENCY = 4


class StorageBlock(Block):
    """A block that can copy a folder of code to the local machine (``get_directory``)."""

    @abc.abstractmethod
    def get_directory(self, from_path: str | None = None,
                      local_path: str | Path | None = None,
                      version: str | None = None) -> Any:
        """Copy the folder ``from_path`` (default: the block's whole folder) into ``local_path``.

        ``version`` (a version an earlier copy reported) asks for exactly that version: what
        ``flow-run retry`` uses to rerun a run on the code it ran. A block without versions
        leaves the parameter out of its signature, and a retry of its runs is refused.
        Returns the destination path or a result with ``directory`` (and ``version`` when
        the storage knows which version it copied).
        """


def storage_block_problem(block: object) -> str | None:
    """Return why ``block`` cannot hold code (``None`` when it is a :class:`StorageBlock`).

    The words finish a sentence that names the block: "``has no get_directory method``".
    """
    if isinstance(block, StorageBlock):
        return None
    if callable(getattr(block, "get_directory", None)):
        return ("has a get_directory method but is not a StorageBlock "
                "(subclass stowflow.storage.StorageBlock)")
    return "has no get_directory method"


def object_key(folder: str, path: str | None) -> str:
    """Return the object key of ``path`` inside ``folder``; never a key outside the folder.

    Both are POSIX-normalised (backslashes become ``/``, ``a/./b`` and ``a/../b`` resolve,
    leading and trailing slashes go). A ``path`` that resolves above ``folder`` raises
    :class:`~stowflow.errors.UnsafePathError`.
    """
    relative = (path or "").replace("\\", "/").lstrip("/")
    relative = posixpath.normpath(relative) if relative else ""
    if relative == ".":
        relative = ""
    if relative == ".." or relative.startswith("../"):
        raise UnsafePathError(f"path {path!r} would leave the folder '{folder}'",
                              hint="give a path inside the block's folder")
    base = folder.replace("\\", "/").strip("/")
    return "/".join(part for part in (base, relative) if part)


class ObjectStorageBlock(StorageBlock):
    """A folder in an object store (bucket or container) as a storage block.

    Subclasses declare their fields, set :attr:`folder_field` to the name of the field that
    holds the folder, and implement :meth:`object_store`; everything else is here.
    """

    #: Name of the field holding the folder inside the bucket that every path is relative to.
    folder_field: ClassVar[str] = "folder"

    @abc.abstractmethod
    def object_store(self, **options: Any) -> ObjectStore:
        """Return a new store on this block's bucket (use it in ``with``; it closes)."""

    @property
    def folder_path(self) -> str:
        """The block's folder, POSIX, without leading or trailing ``/`` (``""``: the root)."""
        return object_key(str(getattr(self, self.folder_field) or ""), None)

    def path_key(self, path: str | None) -> str:
        """Return the object key of ``path`` (relative to the folder); see :func:`object_key`."""
        return object_key(self.folder_path, path)

    def get_directory(self, from_path: str | None = None,
                      local_path: str | Path | None = None,
                      version: str | None = None) -> PullResult:
        """Pull the folder ``from_path`` (relative to the block's folder) into ``local_path``.

        Goes through the sync engine: only what the local cache lacks is fetched, and the
        tree is swapped in atomically. ``local_path`` ``None`` lets the engine choose
        (``./<last folder name>``); ``version`` pulls that manifest version instead of the
        newest. Returns the engine's result (directory and version).
        """
        from stowflow import transfer

        with self.object_store() as store:
            return transfer.pull(store, self.path_key(from_path),
                                 dest=Path(local_path) if local_path is not None else None,
                                 version=version)

    def put_directory(self, local_path: str | Path | None = None, to_path: str | None = None,
                      ignore_file: str | None = None) -> PushResult:
        """Push ``local_path`` (default: the current directory) to ``to_path`` in the folder.

        Goes through the sync engine (packed, versioned, uploading only what is missing);
        ``ignore_file`` (gitignore syntax) defaults to ``.stowflowignore``. Returns the
        engine's result (version, files, bytes sent).
        """
        from stowflow import transfer

        options: dict[str, Any] = {} if ignore_file is None else {"ignore_file": ignore_file}
        source = Path(local_path) if local_path is not None else Path.cwd()
        with self.object_store() as store:
            return transfer.push(source, store, self.path_key(to_path), **options)

    def read_path(self, path: str) -> bytes:
        """Return the bytes of the object at ``path`` (relative to the block's folder)."""
        with self.object_store(max_concurrency=PATH_CONCURRENCY) as store:
            return store.get_bytes(self.path_key(path))

    def write_path(self, path: str, content: bytes | str) -> str:
        """Write ``content`` (``str`` is UTF-8 encoded) to ``path``; return the object key."""
        key = self.path_key(path)
        data = content.encode() if isinstance(content, str) else bytes(content)
        with self.object_store(max_concurrency=PATH_CONCURRENCY) as store:
            store.put(key, data)
        return key
