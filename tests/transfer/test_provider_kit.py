"""The provider kit in core: the status/exception rule table, translating(), the translating
stream, the scheme table, and the storage-block key rule."""

from __future__ import annotations

import io

import pytest
from stowflow.errors import (
    StorageAuthError,
    StorageError,
    StorageNotFoundError,
    StorageTransientError,
    StorageUnreachableError,
    UnsafePathError,
)
from stowflow.plugins import install_hints, reset_plugin_manager
from stowflow.storage.storage_block import object_key
from stowflow.transfer import schemes
from stowflow.transfer.translate import (
    TranslatingStream,
    exception_error_class,
    status_error_class,
    translating,
)


@pytest.mark.parametrize(("status", "expected"), [
    (None, StorageError), (0, StorageError), (400, StorageError), (409, StorageError),
    (416, StorageError), (401, StorageAuthError), (403, StorageAuthError),
    (404, StorageNotFoundError), (408, StorageTransientError), (412, StorageTransientError),
    (429, StorageTransientError), (500, StorageTransientError), (503, StorageTransientError),
])
def test_status_table(status: int | None, expected: type[StorageError]) -> None:
    assert status_error_class(status) is expected


def test_standard_library_transport_failures() -> None:
    assert exception_error_class(TimeoutError()) is StorageTransientError
    assert exception_error_class(ConnectionResetError()) is StorageTransientError
    assert exception_error_class(KeyError("bug")) is None


class SdkError(Exception):
    pass


def _translate(exc: BaseException) -> StorageError | None:
    return StorageTransientError(f"s: read failed: {exc}") if isinstance(exc, SdkError) else None


def test_translating_chains_passes_stowflow_errors_and_lets_bugs_through() -> None:
    with pytest.raises(StorageTransientError, match="s: read failed: boom") as info, \
            translating(_translate):
        raise SdkError("boom")
    assert isinstance(info.value.__cause__, SdkError)
    original = StorageNotFoundError("already ours")
    with pytest.raises(StorageNotFoundError) as same, translating(_translate):
        raise original
    assert same.value is original
    with pytest.raises(KeyError), translating(_translate):
        raise KeyError("a bug stays a bug")


class Body:
    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data, self._pos, self._fail_after = data, 0, fail_after
        self.closed = 0

    def read(self, size: int | None = None) -> bytes:
        if self._fail_after is not None and self._pos >= self._fail_after:
            raise SdkError("reset mid-body")
        end = len(self._data) if size is None else self._pos + size
        chunk = self._data[self._pos:end]
        self._pos += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed += 1


def test_translating_stream_reads_and_translates_mid_body() -> None:
    body = Body(b"one\ntwo\nthree\n")
    with io.BufferedReader(TranslatingStream(body, _translate)) as reader:
        assert reader.readline() == b"one\n"
        assert reader.read() == b"two\nthree\n"
    assert body.closed == 1
    assert TranslatingStream(Body(b"abc"), _translate).read() == b"abc"
    broken = TranslatingStream(Body(b"abcdef", fail_after=3), _translate)
    assert broken.read(3) == b"abc"
    with pytest.raises(StorageTransientError, match="reset mid-body"):
        broken.read(3)


def test_scheme_table_names_one_owner_per_scheme_and_the_install_hint() -> None:
    assert schemes.owner_of("S3").distribution == "stowflow-aws"  # type: ignore[union-attr]
    assert schemes.schemes_of("stowflow-azure") == ("abfs", "abfss", "az")
    assert schemes.owned_by("gcs://b/x", "stowflow-gcp")
    assert not schemes.owned_by("gs://b/x", "stowflow-aws")
    assert schemes.owner_of("nosuchscheme") is None
    hints = install_hints()
    for scheme, owner in schemes.KNOWN_SCHEMES.items():
        assert hints[scheme] == owner.distribution


@pytest.mark.parametrize(("url", "scheme"), [
    ("s3://b/x", "s3"), ("GS://b", "gs"), ("git+ssh://h/r", "git+ssh"), ("file:///srv", "file"),
    ("/a/path", ""), ("./a", ""), ("C:\\code\\proj", ""), ("C:/code", ""),
    ("git@github.com:o/r.git", ""), ("mailto:x", ""), ("we ird://x", ""), ("9p://x", ""),
    ("weird-scheme.v2://b", "weird-scheme.v2"),
])
def test_one_scheme_parser_for_every_reader(url: str, scheme: str) -> None:
    from stowflow.storage._plugin import local_path
    from stowflow.transfer import url as url_module

    assert schemes.scheme_of(url) == scheme
    assert url_module.scheme_of is schemes.scheme_of  # the URL helpers use the same one
    # the local-folder claim agrees: a URL with a scheme is never a local path, except file://
    assert (local_path(url) is None) == (scheme not in ("", "file"))


def test_the_resolver_names_the_scheme_the_parser_found(tmp_path: object) -> None:
    from stowflow.errors import StorageError, UnsupportedURLError
    from stowflow.storage import resolve

    with pytest.raises(UnsupportedURLError, match="'nosuchscheme://'"):
        resolve("NoSuchScheme://bucket/x")
    with pytest.raises(StorageError, match="does not exist") as drive:
        resolve("Q:\\no\\such\\folder")  # a drive letter is not a scheme
    assert not isinstance(drive.value, UnsupportedURLError)
    assert str(resolve("FILE://" + str(tmp_path)).path) == str(tmp_path)  # type: ignore[attr-defined]


def test_is_claimed_builds_no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    from stowflow.transfer import fsspec_store

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a store was built just to ask")

    monkeypatch.setattr(fsspec_store, "store_for_url", refuse)
    assert schemes.is_claimed("s3://bucket/x")  # stowflow-aws is installed here
    assert schemes.is_claimed("memory://bucket/x")  # fsspec's fallback
    assert not schemes.is_claimed("nosuchscheme://bucket/x")
    assert not schemes.is_claimed("https://github.com/o/r.git")
    assert not schemes.is_claimed("/a/local/path")


def test_a_plugin_registers_its_own_scheme_and_may_not_take_another(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from stowflow import hookimpl
    from stowflow.plugins import get_plugin_manager

    module = types.ModuleType("sf_scheme_plugin")

    @hookimpl
    def stowflow_register_url_schemes(register):  # type: ignore[no-untyped-def]
        register("mystore", "stowflow-mystore")

    module.stowflow_register_url_schemes = stowflow_register_url_schemes  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sf_scheme_plugin", module)
    reset_plugin_manager()
    try:
        get_plugin_manager().register(module)
        assert schemes.owner_of("mystore").distribution == "stowflow-mystore"  # type: ignore[union-attr]
        assert install_hints()["mystore"] == "stowflow-mystore"

        @hookimpl
        def stowflow_register_url_schemes_2(register):  # type: ignore[no-untyped-def]
            register("s3", "stowflow-other")

        other = types.ModuleType("sf_scheme_thief")
        other.stowflow_register_url_schemes = stowflow_register_url_schemes_2  # type: ignore[attr-defined]
        schemes.reset()
        get_plugin_manager().register(other)
        from stowflow.errors import PluginError

        with pytest.raises(PluginError, match="'s3://' is claimed by both"):
            schemes.owner_of("mystore")
    finally:
        reset_plugin_manager()
    assert schemes.owner_of("mystore") is None


@pytest.mark.parametrize(("folder", "path", "key"), [
    ("proj", None, "proj"), ("proj/", "", "proj"), ("/team/code/", "a.txt", "team/code/a.txt"),
    ("", "a/b", "a/b"), ("proj", "./a/../b", "proj/b"), ("proj", "/a//b/", "proj/a/b"),
    ("proj", "a\\b", "proj/a/b"), ("team\\code", "x", "team/code/x"),
])
def test_object_key(folder: str, path: str | None, key: str) -> None:
    assert object_key(folder, path) == key


@pytest.mark.parametrize("path", ["..", "../x", "a/../../x", "..\\x"])
def test_object_key_never_leaves_the_folder(path: str) -> None:
    with pytest.raises(UnsafePathError, match="would leave the folder 'proj'"):
        object_key("proj", path)


def test_a_connect_timeout_is_retryable_and_a_refused_connection_unreachable_everywhere() -> None:
    # The same transport failure means the same thing from every provider (AWS used to call a
    # connect timeout unreachable, which the engine does not retry; Azure and GCP retried it).
    import requests
    from azure.core.exceptions import ServiceRequestError, ServiceRequestTimeoutError
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
    from stowflow_aws._errors import translate as aws
    from stowflow_azure._errors import translate as azure
    from stowflow_gcp._errors import translate as gcp

    def az(exc: Exception) -> StorageError:
        return azure(exc, store="az://c", action="get", key="k", endpoint="http://e",  # type: ignore[arg-type]
                     container="c")

    timeouts = [aws(ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), "s3://b", "get", "k"),
                az(ServiceRequestTimeoutError("slow connect")),
                gcp(requests.exceptions.ConnectTimeout("slow connect"), "gs://b/k", "get")]
    assert [type(e) for e in timeouts] == [StorageTransientError] * 3
    refused = [aws(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "s3://b", "get", "k"),
               az(ServiceRequestError("connection refused"))]
    assert [type(e) for e in refused] == [StorageUnreachableError] * 2
