"""A faithful local DCS over real HTTP: a project's restore records and its instances.

It serves ``GET /v2/{project_id}/instances/{instance_id}/restores`` ("List instance restore
records") and ``GET /v2/{project_id}/instances`` ("List instances"), verifies ``SDK-HMAC-SHA256``
signatures the way the API gateway does, filters, pages and answers exactly as the vendor
documents (200, 204, 400, 401), and has fault knobs for tests::

    emulator = Emulator(generate_records(25))
    with emulator as url:
        emulator.script(Scripted(status=503), Scripted(status=429, retry_after="1"))
        ...

    fleet = generate_fleet(60)
    emulator = Emulator(generate_fleet_records(fleet, 10), instances=fleet)
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl

from dcs_restores.signing import DATE_FORMAT, canonical_query, canonical_request, signature

from .fleet import Fleet, InstanceFilter, created_at, default_instance
from .seed import vendor_time
from .verify import Authorization

DEFAULT_PROJECT_ID = "0123456789abcdef0123456789abcdef"
DEFAULT_INSTANCE_ID = "a1b2c3d4-0000-1111-2222-333344445555"
DEFAULT_AK = "EMULATORACCESSKEY001"
DEFAULT_SK = "emulator-secret-key-not-for-production"
MAX_CLOCK_SKEW = timedelta(minutes=15)

_RESTORES_PATH = re.compile(r"^/v2/(?P<project_id>[^/]+)/instances/(?P<instance_id>[^/]+)/restores$")
_INSTANCES_PATH = re.compile(r"^/v2/(?P<project_id>[^/]+)/instances$")
_DCS_TIME = re.compile(r"^\d{14}$")
# Error codes: the API gateway's for routing and authentication; ours for parameter errors.
NOT_FOUND = ("APIGW.0101", "The API does not exist or has not been published in the environment.")
AUTH_FAILED = "APIGW.0301"
BAD_PARAMETER = "DCS.4800"
NO_INSTANCE = "DCS.4204"
PROGRESS_ERROR_CODE = "dcs.08.0002"  # what a restore moved to "failed" by progress() fails with
FINISHED = frozenset({"succeed", "failed"})
SCRIPTED_ERRORS = {
    400: (BAD_PARAMETER, "Invalid request."),
    401: (AUTH_FAILED, "Incorrect IAM authentication information."),
    403: ("APIGW.0305", "The request is forbidden."),
    404: NOT_FOUND,
    429: ("APIGW.0308", "The throttling threshold has been reached."),
}

BodyFault = Literal["normal", "truncated", "not-json", "empty", "drop", "bad-shape"]
# JSON, a readable total, but no list: per route
_BAD_SHAPES = {
    "restores": b'{"restore_record_response": "not a list", "total_num": 40}',
    "instances": b'{"instances": "not a list", "instance_num": 40}',
}
_WindowKey = tuple[str, int, datetime | None, datetime | None]  # instance, records version, begin, end


def every_interface(host: str) -> bool:
    """Whether ``host`` is the address that listens on every interface (0.0.0.0 or ::)."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        return False


def local_url(host: str, port: int) -> str:
    """``http://`` URL of a server listening on ``host`` and ``port``, as this machine reaches it."""
    if every_interface(host):
        host = "::1" if ":" in host else "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass(frozen=True)
class Scripted:
    """One scripted answer, used for the next request instead of (or on top of) the real one.

    ``status`` other than 200 answers that status with a DCS-style error body; ``body`` mangles
    the answer (``drop`` closes the connection without a reply); ``delay`` is seconds to wait first.
    """

    status: int = 200
    retry_after: str | None = None
    body: BodyFault = "normal"
    delay: float = 0.0


@dataclass
class Faults:
    """Knobs that hold for every request until changed.

    ``latency`` and ``script`` apply to both routes; the others name the list they change, so a
    test that disturbs restore records leaves the instance list alone and the other way round.
    """

    latency: float = 0.0  # seconds added to every request
    total_num_delta: int = 0  # added to total_num on every restores page but the first one served
    drift: dict[int, dict[str, Any]] = field(default_factory=dict)  # window index -> fields to overwrite
    arrivals: list[dict[str, Any]] = field(default_factory=list)  # records that appear once a page was served
    instance_num_delta: int = 0  # added to instance_num on every instances page but the first one served
    instance_drift: dict[int, dict[str, Any]] = field(default_factory=dict)  # index in the filtered list -> fields
    script: deque[Scripted] = field(default_factory=deque)


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class _Progress:
    """A restore moved through statuses, one served read at a time (see ``Emulator.progress``)."""

    statuses: tuple[str, ...]
    reads: int = 0
    finished_at: str | None = None  # the updated_at shown once a finished status was first shown

    def next_fields(self, stored: _Stored, now: datetime) -> dict[str, Any]:
        """The fields this read shows, and a step on to the next status."""
        status = self.statuses[min(self.reads, len(self.statuses) - 1)]
        self.reads += 1
        record = stored.record
        fields: dict[str, Any] = {"status": status, "error_code": {}, "updated_at": {}}
        if status == "failed":
            own = record.get("error_code")
            fields["error_code"] = own if isinstance(own, str) and own else PROGRESS_ERROR_CODE
        if status in FINISHED:
            if self.finished_at is None:
                own = record.get("updated_at")
                moment = max(now, stored.created) if stored.created else now
                self.finished_at = own if isinstance(own, str) and own else vendor_time(moment)
            fields["updated_at"] = self.finished_at
        if status == "waiting":
            fields["progress"] = "0.00"
        elif status == "succeed":
            fields["progress"] = "100.00"
        return fields


class Emulator:
    """The emulator as a context manager: ``with Emulator(records) as url: ...``.

    ``records`` are one instance's restore records (that of ``instance_id``) or a dict instance ID
    -> records. ``instances`` is the project's fleet as "List instances" serves it (vendor-shaped
    dicts, see ``devkit.seed.generate_fleet``); without it the fleet is the one instance
    ``instance_id``. Restores can be listed for an instance that has records or is in the fleet
    (none: 204); any other instance is unknown (404, DCS.4204).
    """

    def __init__(
        self,
        records: Iterable[dict[str, Any]] | dict[str, list[dict[str, Any]]] = (),
        *,
        instances: Iterable[dict[str, Any]] | None = None,
        instance_id: str = DEFAULT_INSTANCE_ID,
        project_id: str = DEFAULT_PROJECT_ID,
        ak: str = DEFAULT_AK,
        sk: str = DEFAULT_SK,
        security_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        by_instance = records if isinstance(records, dict) else {instance_id: list(records)}
        self._records = {instance: _newest_first([], items) for instance, items in by_instance.items()}
        self._fleet = Fleet([default_instance(instance_id)] if instances is None else instances)
        self._progress: dict[tuple[str, str], _Progress] = {}
        self.project_id = project_id
        self.ak = ak
        self.sk = sk
        self.security_token = security_token
        self.clock = clock
        self.faults = Faults()
        self._received: list[ReceivedRequest] = []
        self._windows: dict[_WindowKey, list[_Stored]] = {}
        self._version = 0  # bumped whenever records change, so remembered windows are not reused
        self._lock = threading.Lock()
        self._pages_served = 0
        self._instance_pages_served = 0
        server = _Server6 if ":" in host else _Server  # an IPv6 address, e.g. "::" for every interface
        self._server = server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where a client on this machine reaches it: loopback when it listens on every interface."""
        host, port = self._server.server_address[:2]
        return local_url(str(host), port)

    def start(self) -> str:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="dcs-emulator", daemon=True
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def script(self, *answers: Scripted) -> None:
        with self._lock:
            self.faults.script.extend(answers)

    def add_records(self, records: Iterable[dict[str, Any]], instance_id: str = DEFAULT_INSTANCE_ID) -> None:
        with self._lock:
            self._records[instance_id] = _newest_first(self._records.get(instance_id, []), records)
            self._version += 1

    def progress(self, restore_id: str, statuses: Sequence[str], instance_id: str = DEFAULT_INSTANCE_ID) -> None:
        """Move a restore through ``statuses``, one step each time a page holding it is served.

        The first page served shows ``statuses[0]``, the next one ``statuses[1]``, and so on; the
        last status sticks. ``failed`` shows the record's own ``error_code``, or "dcs.08.0002" when
        it has none; a finished status (``succeed``, ``failed``) shows an ``updated_at`` (the
        record's own, else the emulator's clock when first shown); an unfinished one shows none.
        Steps count reads, never the wall clock; a page the script mangles or drops is no read.
        Calling it again for the same restore starts over. The restore may arrive later.
        """
        steps = (statuses,) if isinstance(statuses, str) else tuple(statuses)
        if not steps:
            raise ValueError("progress needs at least one status")
        with self._lock:
            self._progress[(instance_id, restore_id)] = _Progress(steps)

    def restore_requests(self) -> list[ReceivedRequest]:
        """The requests for restore records that passed the signature check, in the order received."""
        with self._lock:
            return [request for request in self._received if _RESTORES_PATH.match(request.path)]

    def instance_requests(self) -> list[ReceivedRequest]:
        """The requests to list instances that passed the signature check, in the order received."""
        with self._lock:
            return [request for request in self._received if _INSTANCES_PATH.match(request.path)]

    # -- request handling, called from the server's threads --

    def _next_scripted(self) -> Scripted | None:
        with self._lock:
            return self.faults.script.popleft() if self.faults.script else None

    def _authenticate(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> str | None:
        """``None`` when the request is signed by our key pair, else the reason it is not."""
        header = headers.get("authorization")
        if not header:
            return "missing Authorization header"
        try:
            auth = Authorization.parse(header)
        except ValueError as error:
            return str(error)
        if not hmac.compare_digest(auth.access_key, self.ak):
            return "unknown access key"
        if not {"host", "x-sdk-date"} <= set(auth.signed_headers):
            return "host and x-sdk-date must be signed"
        try:
            signed_at = datetime.strptime(headers.get("x-sdk-date", ""), DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return "X-Sdk-Date is missing or malformed"
        if abs(self.clock() - signed_at) > MAX_CLOCK_SKEW:
            return "X-Sdk-Date is more than 15 minutes off"
        if "x-security-token" in headers and "x-security-token" not in auth.signed_headers:
            return "X-Security-Token was sent but not signed"
        if self.security_token and headers.get("x-security-token") != self.security_token:
            return "missing or wrong X-Security-Token"
        pairs = parse_qsl(query, keep_blank_values=True)
        canonical = canonical_request(method, path, canonical_query(pairs), headers, auth.signed_headers, body)
        expected = signature(self.sk, headers["x-sdk-date"], canonical)
        if not hmac.compare_digest(expected, auth.signature):
            return "signature does not match"
        return None

    def _window(self, key: _WindowKey, records: list[_Stored]) -> list[_Stored]:
        """The records of a window, remembered for as long as the records (their version) stay the same."""
        matching = self._windows.get(key)
        if matching is None:
            _, _, begin, end = key
            matching = [stored for stored in records if _in_window(stored.created, begin, end)]
            with self._lock:
                self._windows = {**self._windows, key: matching} if len(self._windows) < 64 else {key: matching}
        return matching

    def _answer(self, instance_id: str, query: str, *, served: bool = True) -> tuple[int, bytes | None]:
        """A page of restore records; ``served`` is false when the script mangles it (no progress step)."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            offset = _int_param(params, "offset", 0, minimum=0)
            limit = _int_param(params, "limit", 10, minimum=1, maximum=1000)
            # The vendor's example URL spells the window begin_Time/end_Time: accept both.
            begin = _time_param(params, "begin_time", "begin_Time")
            end = _time_param(params, "end_time", "end_Time")
        except ValueError as error:
            return 400, _error_body(BAD_PARAMETER, str(error))
        with self._lock:
            records, version = self._records.get(instance_id), self._version
            if records is None and instance_id in self._fleet:
                records = []  # an instance of the fleet that has never been restored
            first_page = self._pages_served == 0
            self._pages_served += 1
            if self.faults.arrivals and records is not None:
                # New restores show up mid-read: they shift every later page by their number.
                self._records[instance_id] = _newest_first(records, self.faults.arrivals)
                self.faults.arrivals = []
                self._version += 1
            drift = dict(self.faults.drift)
            delta = 0 if first_page else self.faults.total_num_delta
        if records is None:
            return 404, _error_body(NO_INSTANCE, f"The instance {instance_id} does not exist.")
        matching = self._window((instance_id, version, begin, end), records)
        if not matching:
            return 204, None
        shown = matching[offset : offset + limit]
        changes = self._progress_steps(instance_id, shown) if served else {}
        for index, fields in drift.items():
            if offset <= index < offset + len(shown):
                changes[index - offset] = {**changes.get(index - offset, {}), **fields}
        page = b",".join(
            json.dumps({**stored.record, **changes[position]}).encode() if position in changes else stored.encoded
            for position, stored in enumerate(shown)
        )
        total = str(len(matching) + delta).encode()
        return 200, b'{"restore_record_response": [' + page + b'], "total_num": ' + total + b"}"

    def _progress_steps(self, instance_id: str, shown: list[_Stored]) -> dict[int, dict[str, Any]]:
        """Position on the page -> the fields its progressing restore shows on this read (each one a step)."""
        with self._lock:
            if not self._progress:
                return {}
            now = self.clock()
            steps = {}
            for position, stored in enumerate(shown):
                progress = self._progress.get((instance_id, str(stored.record.get("restore_id"))))
                if progress is not None:
                    steps[position] = progress.next_fields(stored, now)
            return steps

    def _answer_instances(self, query: str) -> tuple[int, bytes | None]:
        """A page of the fleet: ``instance_num`` is every instance the filter matches, not the page."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            offset = _int_param(params, "offset", 0, minimum=0)
            limit = _int_param(params, "limit", 10, minimum=1, maximum=1000)
            wanted = InstanceFilter.from_params(params)
        except ValueError as error:
            return 400, _error_body(BAD_PARAMETER, str(error))
        with self._lock:
            first_page = self._instance_pages_served == 0
            self._instance_pages_served += 1
            drift = dict(self.faults.instance_drift)
            delta = 0 if first_page else self.faults.instance_num_delta
        matching = self._fleet.select(wanted)
        page = b",".join(
            json.dumps({**member.record, **drift[index]}).encode() if index in drift else member.encoded
            for index, member in enumerate(matching[offset : offset + limit], start=offset)
        )
        total = str(len(matching) + delta).encode()
        return 200, b'{"instance_num": ' + total + b', "instances": [' + page + b"]}"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its deadline passed) is no error of the emulator's: stay quiet."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "dcs-emulator"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Quiet: tests read ``emulator.restore_requests()`` instead."""

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            headers = {name.lower(): value for name, value in self.headers.items()}
            body = self.rfile.read(int(headers.get("content-length") or 0))
            match = _RESTORES_PATH.match(path) or _INSTANCES_PATH.match(path)
            if match is None:
                return self._send(404, _error_body(*NOT_FOUND))
            route = "restores" if match.re is _RESTORES_PATH else "instances"
            reason = emulator._authenticate("GET", path, query, headers, body)
            if reason is None and headers.get("x-project-id") != match["project_id"]:
                reason = "X-Project-Id does not match the project in the path"
            if reason is None and match["project_id"] != emulator.project_id:
                reason = "the project does not belong to these credentials"
            if reason is not None:
                return self._send(401, _error_body(AUTH_FAILED, f"Incorrect IAM authentication information: {reason}"))
            with emulator._lock:
                emulator._received.append(ReceivedRequest("GET", path, query, headers))
            scripted = emulator._next_scripted() or Scripted()
            delay = emulator.faults.latency + scripted.delay
            if delay:
                time.sleep(delay)
            if scripted.status != 200:
                extra = {"Retry-After": scripted.retry_after} if scripted.retry_after else {}
                code, message = SCRIPTED_ERRORS.get(scripted.status, ("DCS.5000", "Internal service error."))
                return self._send(scripted.status, _error_body(code, message), extra, scripted.body, route)
            if route == "instances":
                status, payload = emulator._answer_instances(query)
            else:
                status, payload = emulator._answer(match["instance_id"], query, served=scripted.body == "normal")
            return self._send(status, payload, {}, scripted.body, route)

        def _send(
            self,
            status: int,
            body: bytes | None,
            extra_headers: dict[str, str] | None = None,
            fault: BodyFault = "normal",
            route: str = "restores",
        ) -> None:
            if fault == "drop":
                self.close_connection = True
                return
            body = body or b""
            content_type = "application/json;charset=UTF-8"
            if fault == "truncated":
                body = body[: len(body) // 2]
            elif fault == "not-json":
                body, content_type = b"<html><body>502 Bad Gateway</body></html>", "text/html"
            elif fault == "empty":
                body = b""
            elif fault == "bad-shape":
                body = _BAD_SHAPES[route]
            self.send_response(status)
            self.send_header("X-Request-Id", uuid.uuid4().hex)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra_headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error_code": code, "error_msg": message, "error_ext_msg": None}).encode()


def _int_param(params: dict[str, str], name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    if name not in params:
        return default
    raw = params[name]
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum or (maximum is not None and int(raw) > maximum):
        bound = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise ValueError(f"Invalid {name}: expected an integer {bound}.")
    return int(raw)


def _time_param(params: dict[str, str], *names: str) -> datetime | None:
    for name in names:
        if name in params:
            raw = params[name]
            try:
                if not _DCS_TIME.match(raw):
                    raise ValueError
                return datetime.strptime(raw, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            except ValueError:
                raise ValueError(f"Invalid {names[0]}: expected yyyyMMddHHmmss.") from None
    return None


def _created_at(record: dict[str, Any]) -> datetime | None:
    """DCS filters on whole seconds."""
    moment = created_at(record)
    return None if moment is None else moment.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class _Stored:
    """A record as served: its creation time parsed once (to the second, as the window is), its JSON encoded once."""

    created: datetime | None
    record: dict[str, Any]
    encoded: bytes


def _in_window(created: datetime | None, begin: datetime | None, end: datetime | None) -> bool:
    if created is None:
        return True  # a drifted timestamp cannot be filtered: serve it, so clients see it
    return (begin is None or created >= begin) and (end is None or created <= end)


def _newest_first(stored: list[_Stored], records: Iterable[dict[str, Any]] = ()) -> list[_Stored]:
    """``stored`` plus ``records``, newest first."""
    added = [_Stored(_created_at(record), record, json.dumps(record).encode()) for record in records]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted([*stored, *added], key=lambda item: item.created or oldest, reverse=True)
