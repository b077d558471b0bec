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

Only the function's own operations are faulted; the tests' setup and reads (``CreateQueue``,
``ReceiveMessage``, ``Scan``...) always work.
"""

from __future__ import annotations

import json
import logging
import random
import threading
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
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)  # "Operation:Code" -> how many were injected

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # seeded so faults replay, not crypto  # nosec B311

    def clear(self) -> None:
        self.rate = self.partial_rate = 0.0
        self.down.clear()
        self.script.clear()

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
            if operation == "SendMessageBatch":
                return self._partly_failed_batch(environ, start_response)
            return list(self._moto(environ, start_response))

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
