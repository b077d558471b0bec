"""A hostile DCS for tests: a raw-socket server on loopback that misbehaves in time.

Behaviours:

- ``trickle``: a 200 with its headers, then the body one byte every ``interval`` seconds, with a
  ``Content-Length`` (``content_length=True``) or ending at close (``content_length=False``).
- ``stall_after_headers``: a 200 with a ``Content-Length``, then nothing.
- ``never_answer``: accepts, reads the request, says nothing.
- ``never_accept``: listens with a backlog it fills itself and never accepts, so a connection
  attempt is never completed.

It only binds 127.0.0.1, and it stops by itself: every wait ends at ``stop()`` or after
``lifetime`` seconds, whichever comes first, and every socket it opened is closed then.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Literal, Self

Behaviour = Literal["trickle", "stall_after_headers", "never_answer", "never_accept"]

_MAX_REQUEST_BYTES = 64 * 1024
_MAX_FILLERS = 16


class HostilePeer:
    def __init__(
        self,
        behaviour: Behaviour,
        *,
        interval: float = 0.2,
        content_length: bool = True,
        body_bytes: int = 100_000,
        lifetime: float = 15.0,
    ) -> None:
        self.behaviour = behaviour
        self.interval = interval
        self.content_length = content_length
        self.body_bytes = body_bytes
        self.lifetime = lifetime
        self.connections = 0  # connections accepted (none for never_accept)
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._fillers: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._ends_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._ends_at = time.monotonic() + self.lifetime
        if self.behaviour == "never_accept":
            self._listener.listen(0)
            self._fill_backlog()
            return
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self._spawn(self._accept_loop)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)
        with self._lock:
            for sock in [*self._open, *self._fillers]:
                with contextlib.suppress(OSError):
                    sock.close()
        self._listener.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _waiting(self, seconds: float) -> bool:
        """Wait ``seconds``; ``False`` once the peer is stopped or its lifetime is over."""
        return not self._stop.wait(seconds) and time.monotonic() < self._ends_at

    def _fill_backlog(self) -> None:
        # Connect to ourselves until a connection no longer completes: the accept queue is full,
        # and the kernel now drops further handshakes (the client's connect hangs).
        for _ in range(_MAX_FILLERS):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.2)
            self._fillers.append(filler)
            try:
                filler.connect(self._listener.getsockname())
            except TimeoutError:
                return
        raise RuntimeError("the listen backlog did not fill")

    def _accept_loop(self) -> None:
        while self._waiting(0):
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._open.append(connection)
                self.connections += 1
            self._spawn(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:  # the client hangs up when it gives up
            self._read_request(connection)
            if self.behaviour == "never_answer":
                while self._waiting(0.05):
                    pass
                return
            headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            if self.content_length or self.behaviour == "stall_after_headers":
                headers += f"Content-Length: {self.body_bytes}\r\n"
            else:
                headers += "Connection: close\r\n"
            connection.sendall(f"{headers}\r\n".encode())
            if self.behaviour == "stall_after_headers":
                while self._waiting(0.05):
                    pass
                return
            for _ in range(self.body_bytes):
                if not self._waiting(self.interval):
                    return
                connection.sendall(b" ")

    def _read_request(self, connection: socket.socket) -> None:
        connection.settimeout(0.05)
        received = b""
        while b"\r\n\r\n" not in received and len(received) < _MAX_REQUEST_BYTES and self._waiting(0):
            try:
                chunk = connection.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                return
            received += chunk
        connection.settimeout(None)
