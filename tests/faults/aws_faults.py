"""moto's server on loopback with AWS's own failures injected: for fault and soak tests.

Two things set it apart from ``ThreadedMotoServer``:

- **One request at a time inside moto.** DynamoDB's conditional writes are atomic; moto's are
  not (it checks, then writes, and another thread can run in between), so concurrent runs would
  meet moto's races instead of ours. A lock around moto gives the atomicity DynamoDB has, while
  connections are still served by threads.
- **Faults as AWS answers them.** Every service here speaks the AWS JSON protocol, so a fault is
  the HTTP status and ``__type`` AWS would send (throttling, internal errors, a service down), or,
  for ``SendMessageBatch``, entries reported ``Failed`` while the others really are queued. The
  clients' own retries (botocore's, the forwarder's) meet them exactly as they would in AWS.
- **Answers that come too late.** A request named in ``late`` is carried out by moto, and its
  answer held until the client has hung up (its read timed out): the request took effect, and
  the client cannot know it. No timing is guessed: the answer waits for the hang-up itself.

Only the function's own operations are faulted; the tests' setup and reads (``CreateQueue``,
``ReceiveMessage``, ``Scan``...) always work.
"""

from __future__ import annotations

import json
import logging
import random
import select
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

FAULTABLE = frozenset(
    {"SendMessageBatch", "SendMessage", "PutItem", "GetItem", "UpdateItem", "DeleteItem", "GetSecretValue"}
)

# (HTTP status, AWS error code) per service, as each answers when it is throttled or failing.
TRANSIENT_ERRORS = {
    "AmazonSQS": [(400, "ThrottlingException"), (500, "InternalError"), (503, "ServiceUnavailable")],
    "DynamoDB_20120810": [
        (400, "ProvisionedThroughputExceededException"),
        (400, "ThrottlingException"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
    ],
    "secretsmanager": [(400, "ThrottlingException"), (500, "InternalServiceError")],
}


@dataclass
class AwsFaults:
    """What goes wrong, changed at any time by the test that owns the server."""

    rate: float = 0.0  # chance that a faultable request gets one of its service's transient errors
    partial_rate: float = 0.0  # chance that a SendMessageBatch reports some of its entries Failed
    down: set[str] = field(default_factory=set)  # operations that fail every time (503)
    script: deque[tuple[str, str]] = field(default_factory=deque)  # (operation, error code) for the next ones
    late: Counter[str] = field(default_factory=Counter)  # operation -> how many of its next calls are answered late
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)  # "Operation:Code" -> how many were injected

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # seeded so faults replay, not crypto  # nosec B311

    def clear(self) -> None:
        self.rate = self.partial_rate = 0.0
        self.down.clear()
        self.script.clear()
        self.late.clear()

    def answer_late(self, operation: str) -> bool:
        """Whether this call of ``operation`` is to be carried out but answered only after the client hung up."""
        if self.late[operation] <= 0:
            return False
        self.late[operation] -= 1
        return True

    def _scripted(self, operation: str) -> str | None:
        for index, (scripted_operation, code) in enumerate(self.script):
            if scripted_operation == operation:
                del self.script[index]
                return code
        return None

    def error_for(self, service: str, operation: str) -> tuple[int, str] | None:
        """The error to answer instead of moto, if any."""
        if operation not in FAULTABLE:
            return None
        if operation in self.down:
            return 503, "ServiceUnavailable"
        scripted = self._scripted(operation)
        if scripted is not None:
            status = {code: status for status, code in TRANSIENT_ERRORS.get(service, [])}.get(scripted, 400)
            return status, scripted
        if self.rate and self._random.random() < self.rate:
            return self._random.choice(TRANSIENT_ERRORS.get(service, [(500, "InternalFailure")]))
        return None

    def refused_entries(self, count: int) -> int:
        """How many of a batch's ``count`` entries to report Failed (the first ones)."""
        if count and self.partial_rate and self._random.random() < self.partial_rate:
            return self._random.randint(1, count)
        return 0


class FaultyMoto:
    """A WSGI app: moto behind a lock, with ``faults`` applied first."""

    def __init__(self, moto: WsgiApp, faults: AwsFaults) -> None:
        self._moto = moto
        self.faults = faults
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
        with self._lock:
            error = self.faults.error_for(service, operation)
            if error is not None:
                self.faults.injected[f"{operation}:{error[1]}"] += 1
                return _error(start_response, *error)
            late = operation in FAULTABLE and self.faults.answer_late(operation)
            if operation == "SendMessageBatch":
                answer = self._partly_failed_batch(environ, start_response)
            else:
                answer = list(self._moto(environ, start_response))
        if late:  # outside the lock: the client's next requests are served meanwhile
            _wait_for_hang_up(environ["werkzeug.socket"])
            self.faults.injected[f"{operation}:answered late"] += 1
        return answer

    def _partly_failed_batch(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Queue only some entries for real and report the others ``Failed``, as SQS may."""
        request = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) or b"{}")
        entries = request.get("Entries", [])
        refused = self.faults.refused_entries(len(entries))
        if not refused:
            return self._call_moto(environ, request, start_response)
        self.faults.injected["SendMessageBatch:Failed entries"] += refused
        failed = [
            {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "Please try again."}
            for entry in entries[:refused]
        ]
        if refused == len(entries):
            return _json(start_response, 200, {"Successful": [], "Failed": failed})
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> Callable[[bytes], None]:
            captured.update(status=int(status.split()[0]))
            return lambda _: None

        answer = b"".join(self._call_moto(environ, {**request, "Entries": entries[refused:]}, capture))
        if captured["status"] != 200:
            return _json(start_response, captured["status"], json.loads(answer))
        body = json.loads(answer)
        return _json(start_response, 200, {"Successful": body.get("Successful", []), "Failed": failed})

    def _call_moto(self, environ: Environ, request: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        raw = json.dumps(request).encode()
        return list(
            self._moto({**environ, "wsgi.input": BytesIO(raw), "CONTENT_LENGTH": str(len(raw))}, start_response)
        )


HANG_UP_LIMIT = 60.0  # a client that never hangs up gets its answer after this long (a test's bug, not luck)


def _wait_for_hang_up(connection: socket.socket) -> None:
    """Return once the client has closed ``connection`` (a read that times out closes it), or after the limit."""
    give_up = time.monotonic() + HANG_UP_LIMIT
    while time.monotonic() < give_up:
        readable, _, _ = select.select([connection], [], [], 0.05)
        try:
            if readable and not connection.recv(1, socket.MSG_PEEK):
                return  # end of stream: the client hung up
        except OSError:  # reset by the client: hung up as well
            return


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    raw = json.dumps(body).encode()
    start_response(
        f"{status} {'OK' if status == 200 else 'Error'}",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(raw)))],
    )
    return [raw]


def _error(start_response: StartResponse, status: int, code: str) -> list[bytes]:
    return _json(start_response, status, {"__type": code, "message": f"injected fault: {code}"})


@contextmanager
def faulty_moto_server(faults: AwsFaults | None = None) -> Iterator[tuple[str, AwsFaults]]:
    """``(endpoint, faults)`` of moto's server on a free loopback port, for as long as the block runs."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    faults = faults or AwsFaults()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = FaultyMoto(DomainDispatcherApplication(create_backend_app), faults)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="faulty-moto", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", faults
    finally:
        server.shutdown()
        thread.join()
