"""Shuts a request's socket down when its deadline passes, whatever the peer is doing.

A timeout of ``requests`` holds per socket operation: a peer that trickles bytes (in the headers or
the body) never trips it. Mount :class:`WatchedAdapter` on a session and make each request inside
``with Watchdog(seconds)``: its connections tell the watchdog their socket.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import BaseHTTPResponse

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

_watching = threading.local()  # the watchdog of the request this thread is making, if any


class Watchdog:
    """Shuts the socket of one request down when its deadline passes, whatever the peer is doing.

    A timeout of ``requests`` holds per socket operation: a peer that trickles bytes (in the
    headers or the body) never trips it. The watchdog's timer does not care: at the deadline it
    shuts the socket down, which ends a read blocked on it at once; the caller sees ``fired``.
    The connection learns its watchdog when it waits for the response (:class:`_WatchedConnection`);
    connecting itself is bounded by the connect timeout, which is cut to the time left.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._done = False
        self._timer = threading.Timer(max(0.0, seconds), self._fire) if math.isfinite(seconds) else None

    def __enter__(self) -> Self:
        _watching.current = self
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._lock:  # from here on the socket is back in the pool: the timer must not touch it
            self._done = True
        if self._timer is not None:
            self._timer.cancel()
        _watching.current = None

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            if self._done or sock is None:
                return
            self._sock = sock
            if self.fired:
                _shut(sock)

    def release(self) -> None:
        """The connection is going back to the pool, its answer read: its socket is another request's next."""
        with self._lock:
            self._done = True
            self._sock = None

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, on a TLS socket too: the TLS state belongs to the reading thread.
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watch(conn: HTTPConnection) -> None:
    """Hand the socket to the watchdog of the request this thread is making, and remember it on the connection."""
    watchdog: Watchdog | None = getattr(_watching, "current", None)
    if watchdog is not None:
        watchdog.watch(conn.sock)
    conn.watchdog = watchdog  # type: ignore[attr-defined]


def _disarm(conn: BaseHTTPConnection | None) -> None:
    """Before a connection goes back to the pool, its request's watchdog lets go of its socket."""
    watchdog: Watchdog | None = getattr(conn, "watchdog", None)
    if watchdog is not None:
        watchdog.release()


class _WatchedConnection(HTTPConnection):
    def getresponse(self) -> BaseHTTPResponse:  # type: ignore[override]
        _watch(self)
        return super().getresponse()


class _WatchedTlsConnection(HTTPSConnection):
    def getresponse(self) -> BaseHTTPResponse:  # type: ignore[override]
        _watch(self)
        return super().getresponse()


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        _disarm(conn)
        super()._put_conn(conn)


class _WatchedTlsPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTlsConnection

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        _disarm(conn)
        super()._put_conn(conn)


class WatchedAdapter(HTTPAdapter):
    """An adapter whose connections tell the watchdog of the request in this thread their socket."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedTlsPool}
