"""A seeded fault-injecting TCP proxy between a client and a real server (tests only).

:class:`FaultProxy` listens on a free 127.0.0.1 port and forwards each connection to the
target. Each exchange — a connection's first request and its response, then each further
request on a kept-alive connection (client bytes after response bytes: HTTP/1.1 without
pipelining) — draws one fault from a random generator seeded by ``(seed, connection
number, exchange number)``, so a failing case is reproducible from its seed, and a client
that pools its connections meets faults on any request, not only on a connection's first:

- ``pass``: forwarded untouched;
- ``latency``: every chunk delayed by up to ``max_latency`` seconds;
- ``reset``: after a random number of response bytes the client gets a TCP reset;
- ``truncate``: after a random number of response bytes both sides are closed cleanly
  (the body ends early, as a cut-short response);
- ``stall``: after a random number of response bytes nothing moves for ``stall``
  seconds, then the connection is reset (bounded: the proxy never stalls forever).

A reset, truncate or stall whose response ended before its byte count strikes when the
client sends its next request on that connection (a kept-alive connection dropped under
it).

:meth:`FaultProxy.freeze` is a network partition: from then on nothing moves either way and
nothing is closed (new connections are accepted and never answered) until :meth:`close`.

``rate`` is the share of exchanges that get a fault other than ``pass``, drawn from
``faults`` (default: all four); :attr:`FaultProxy.faults` counts the draws and
:attr:`FaultProxy.struck` the faults that hit (a response shorter than a fault's byte
count passes whole). The fixture
:func:`fault_proxy` makes proxies and stops them at the end of the test.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

FAULTS = ("latency", "reset", "truncate", "stall")
_CHUNK = 16 * 1024
#: A connection with no traffic either way for this long is closed (bounds every wait).
IDLE_TIMEOUT = 30.0


@dataclass(frozen=True)
class _Plan:
    fault: str
    after: int  # response bytes forwarded before the fault strikes
    latency: float


class FaultProxy:
    """A TCP proxy to ``(host, port)`` that injects seeded faults (see the module doc)."""

    def __init__(self, host: str, port: int, *, seed: int = 0, rate: float = 0.3,
                 max_after: int = 64 * 1024, max_latency: float = 0.02,
                 stall: float = 0.5, faults: tuple[str, ...] = FAULTS) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        self.kinds = tuple(faults)
        self.target = (host, port)
        self.seed, self.rate = seed, rate
        self.max_after, self.max_latency, self.stall = max_after, max_latency, stall
        self.faults: Counter[str] = Counter()  # drawn, one per exchange
        self.struck: Counter[str] = Counter()  # hit: delayed a chunk, or cut a response
        self._lock = threading.Lock()
        self._count = 0
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._frozen = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._accepting = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._accepting.start()

    @classmethod
    def for_url(cls, url: str, **options: Any) -> FaultProxy:
        """Return a proxy in front of the server of ``url`` (``http://host:port``)."""
        parts = urllib.parse.urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, **options)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the proxy's address as an endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    def freeze(self) -> None:
        """Partition the network: stop forwarding in both directions, close nothing."""
        self._frozen.set()

    def _hold(self) -> None:
        """While frozen, wait (until :meth:`close`, bounded by 10 minutes)."""
        self._stopping.wait(600)

    def _plan(self, number: int, exchange: int = 0) -> _Plan:
        rng = random.Random(f"{self.seed}:{number}" + (f":{exchange}" if exchange else ""))
        fault = rng.choice(self.kinds) if rng.random() < self.rate else "pass"
        with self._lock:
            self.faults[fault] += 1
        return _Plan(fault, rng.randrange(0, self.max_after), rng.uniform(0, self.max_latency))

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._count += 1
                number = self._count
            thread = threading.Thread(target=self._serve, args=(client, number), daemon=True,
                                      name=f"fault-proxy-{number}")
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _serve(self, client: socket.socket, number: int) -> None:
        """Forward both directions from one thread (``select``), so a fault's close is
        never deferred by another thread blocked reading the same socket."""
        plan, exchange, answered = self._plan(number), 0, False
        self._track(client)
        if self._frozen.is_set():
            self._hold()
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        self._track(upstream)
        sent = 0  # response bytes of this exchange forwarded
        peers = {client: upstream, upstream: client}
        open_ = {client, upstream}
        try:
            while open_ and not self._stopping.is_set():
                ready, _, _ = select.select(list(open_), [], [], IDLE_TIMEOUT)
                if self._frozen.is_set():
                    self._hold()
                    break
                if not ready:
                    break  # idle too long: every wait is bounded
                for source in ready:
                    data = source.recv(_CHUNK)
                    sink = peers[source]
                    if source is client and answered and data:  # the next request
                        if plan.fault in ("reset", "truncate", "stall"):
                            # The response ended before the fault's byte count: the
                            # kept-alive connection is dropped under the next request.
                            self._hit(plan.fault)
                            self._strike(plan.fault, upstream, client)
                            return
                        exchange += 1
                        plan, sent, answered = self._plan(number, exchange), 0, False
                    if not data:
                        open_.discard(source)
                        with contextlib.suppress(OSError):
                            sink.shutdown(socket.SHUT_WR)
                        continue
                    if source is upstream and plan.fault != "pass":
                        if plan.fault == "latency":
                            if not answered:
                                self._hit("latency")
                            time.sleep(plan.latency)
                        elif sent + len(data) > plan.after:
                            sink.sendall(data[: plan.after - sent])
                            self._hit(plan.fault)
                            self._strike(plan.fault, upstream, client)
                            return
                    sink.sendall(data)
                    if source is upstream:
                        sent += len(data)
                        answered = True
        except OSError:
            pass
        _reset(client)
        _reset(upstream)

    def _hit(self, fault: str) -> None:
        with self._lock:
            self.struck[fault] += 1

    def _strike(self, fault: str, upstream: socket.socket, client: socket.socket) -> None:
        if fault == "stall":
            self._stopping.wait(self.stall)
        if fault == "truncate":
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            return
        _reset(client)
        _reset(upstream)

    def close(self) -> None:
        """Stop accepting, reset every open connection and wait (bounded) for the threads."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._accepting.join(2)
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            # shutdown first: a close alone neither wakes the thread waiting in select()
            # on the socket nor tears the connection down while that wait holds it, so
            # both ends would only notice after IDLE_TIMEOUT
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            _reset(sock)
        for thread in threads:
            thread.join(2)


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset (SO_LINGER 0) rather than a clean FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., FaultProxy]]:
    """A factory ``fault_proxy(url, seed=, rate=, ...)`` of :class:`FaultProxy` objects in
    front of the server at ``url``; all are closed when the test ends."""
    made: list[FaultProxy] = []

    def make(url: str, **options: Any) -> FaultProxy:
        proxy = FaultProxy.for_url(url, **options)
        made.append(proxy)
        return proxy

    try:
        yield make
    finally:
        for proxy in made:
            proxy.close()
