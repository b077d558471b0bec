"""The DCS "List instance restore records" client: signed, retried, paged concurrently, validated."""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ReadTimeoutError
from urllib3.response import BaseHTTPResponse

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

from .errors import (
    DcsAuthError,
    DcsBadRequestError,
    DcsError,
    DcsInvalidResponseError,
    DcsNotFoundError,
    DcsTimeoutError,
    DcsUnavailableError,
)
from .instances import (
    InstanceList,
    InstancePage,
    InstanceQuery,
    merge_instance_pages,
    parse_instance_page,
    peek_instance_num,
)
from .models import FINISHED, InvalidRecord, RestoreRecord, RestoreResult, RestoreStatus
from .pages import Page, parse_page, peek_total
from .progress import PageCounter, page_counter
from .query import MAX_PAGE_SIZE, RestoreQuery
from .retry import Deadline, RetryPolicy, parse_retry_after
from .signing import Credentials, canonical_query, sign

logger = logging.getLogger(__name__)

USER_AGENT = "dcs-restore-watch/0.1"
DEFAULT_MAX_RECORDS = 10_000
DEFAULT_MAX_INSTANCES = 10_000
DEFAULT_MAX_INVALID_RECORDS = 1_000  # kept for the report; the rest are counted (a window of garbage stays small)
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_E = TypeVar("_E", bound=DcsError)
_CHUNK_BYTES = 64 * 1024
# A page of 1,000 records whose names and remarks are as long as DCS allows (64 and 128 characters,
# each sent as six-byte \u escapes) weighs about 2.5 MB; whitespace or a bigger page is not DCS.
DEFAULT_MAX_PAGE_BYTES = 4 * 1024 * 1024
# Every record is a JSON object, and its fields may hold a few more ({} for "no value", new fields):
# a body with more objects per item asked for than its kind allows is not a page, and is not parsed.
_MIN_OBJECTS_ALLOWED = 1_000  # a page of one record may still quote a few braces in its remarks


class DcsRestoresClient:
    """Reads restore records of DCS instances.

    One client holds one pooled :class:`requests.Session`; build it once per process (per Lambda
    container) and reuse it. ``list_restores`` is the entry point; it picks a single page when
    the query names ``offset``/``limit`` and the whole window otherwise.
    """

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_workers: int = 10,
        page_size: int = MAX_PAGE_SIZE,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_instances: int = DEFAULT_MAX_INSTANCES,
        max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES,
        max_invalid_records: int = DEFAULT_MAX_INVALID_RECORDS,
        min_request_time: float = 0.5,
        allow_http: bool = False,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``allow_http``: plain ``http://`` to any host, not only loopback. For a caller that knows it runs
        locally (a container of ``sam local`` reaching the emulator on its host); this library cannot tell.
        Even then, credentials with a security token are refused such an endpoint (see ``_check_endpoint``)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        if min(max_records, max_instances, max_workers) < 1:
            raise ValueError("max_records, max_instances and max_workers must be at least 1")
        self._base_url, self._host = _check_endpoint(
            endpoint, allow_http=allow_http, security_token=bool(credentials.security_token)
        )
        self._credentials = credentials
        self._timeouts = (connect_timeout, read_timeout)
        self._retry = retry or RetryPolicy()
        self._max_workers = max_workers
        self._page_size = page_size
        self._max_records = max_records
        self._max_instances = max_instances
        self._max_page_bytes = max_page_bytes
        self._max_invalid = max_invalid_records
        self._min_request_time = min_request_time
        self._sleep = sleep
        self._now = now
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or .netrc credentials picked up from the host
        adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=max_workers, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def list_restores(self, query: RestoreQuery, deadline: Deadline | None = None) -> RestoreResult:
        deadline = deadline or Deadline.never()
        if query.single_page:
            page = self.read_page(query, query.offset or 0, query.limit or self._page_size, deadline)
            return RestoreResult.collect(page.records, page.invalid, page.total, False, max_invalid=self._max_invalid)
        return self.read_window(query, deadline)

    def read_window(self, query: RestoreQuery, deadline: Deadline | None = None) -> RestoreResult:
        """Every record of the window: the first page tells the total, the rest come concurrently."""
        pages = self._read_all(
            self._fetcher(query),
            _RESTORES,
            self._max_records,
            deadline,
        )
        total = max(page.total for page in pages)
        return _merge(pages, total, self._max_records, self._max_invalid)

    def read_page(self, query: RestoreQuery, offset: int, limit: int, deadline: Deadline | None = None) -> Page:
        """One page exactly as asked; a 204 is an empty page."""
        answer = self._fetcher(query)(offset, limit, deadline or Deadline.never(), None)
        return _RESTORES.parse(answer, offset, limit)

    def list_instances(self, query: InstanceQuery, deadline: Deadline | None = None) -> InstanceList:
        """A project's instances that match ``query``: the whole listing, or the one page it names."""
        fetch = self._fetcher(query)
        if not query.single_page:
            pages = self._read_all(fetch, _INSTANCES, self._max_instances, deadline)
            return merge_instance_pages(pages, self._max_invalid, cap=self._max_instances)
        offset, limit = query.offset or 0, query.limit or self._page_size
        page = _INSTANCES.parse(fetch(offset, limit, deadline or Deadline.never(), None), offset, limit)
        return merge_instance_pages([page], self._max_invalid)

    def _fetcher(self, query: RestoreQuery | InstanceQuery) -> _Fetch:
        """Fetch one page of the listing ``query`` names."""

        def fetch(offset: int, limit: int, deadline: Deadline, abandon: threading.Event | None) -> _Answer:
            return self._get(query.path, query.page_params(offset, limit), query.project_id, deadline, abandon)

        return fetch

    def _read_all(self, fetch: _Fetch, kind: _PageKind[_P], cap: int, deadline: Deadline | None) -> list[_P]:
        """Every page up to ``cap`` items: the first page tells the total, the rest come concurrently."""
        deadline = deadline or Deadline.never()
        counter = page_counter()  # None unless someone watches (dcs_restores.progress)

        def limit_at(offset: int) -> int:
            # Full pages always, so a total that grows never leaves a gap; the cap trims the last one.
            return min(self._page_size, cap - offset)

        answers = {0: fetch(0, limit_at(0), deadline, None)}
        pages: dict[int, _P] = {}

        def validate_arrived() -> None:  # also runs while further pages are on the wire
            for offset in sorted(answers.keys() - pages.keys()):
                pages[offset] = kind.parse(answers[offset], offset, limit_at(offset))

        total = kind.peek_total(answers[0].body) if answers[0].status == 200 else 0
        while True:
            # The total may grow while we page (new restores, new instances): fetch until no offset is missing.
            wanted = min(max([total, *(page.total for page in pages.values())]), cap)
            missing = [offset for offset in range(0, wanted, self._page_size) if offset not in answers]
            if counter is not None:
                counter.expect(len(answers) + len(missing), arrived=len(answers))
            if not missing:
                break
            answers.update(
                self._fetch_all(fetch, limit_at, missing, deadline, meanwhile=validate_arrived, counter=counter)
            )
            validate_arrived()
        validate_arrived()
        return [pages[offset] for offset in sorted(pages)]

    def _fetch_all(
        self,
        fetch_page: _Fetch,
        limit_at: Callable[[int], int],
        offsets: list[int],
        deadline: Deadline,
        meanwhile: Callable[[], None],
        counter: PageCounter | None = None,
    ) -> dict[int, _Answer]:
        """Fetch pages concurrently, running ``meanwhile`` in this thread while they travel.

        Pages are validated by the caller once they have all arrived: validation holds the GIL,
        and done while other pages are still arriving it makes every socket read wait its turn
        (measured: a 10,000-record window took 0.28 s that way, 0.20 s this way).
        """
        workers = min(self._max_workers, len(offsets))
        abandon = threading.Event()  # set by the first page that fails: the others stop retrying

        def fetch(offset: int) -> _Answer:
            try:
                answer = fetch_page(offset, limit_at(offset), deadline, abandon)
            except BaseException:  # whatever it is, re-raised: the other pages stop retrying
                abandon.set()
                raise
            if counter is not None:
                counter.arrived()
            return answer

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dcs-page") as pool:
            futures = [pool.submit(fetch, offset) for offset in offsets]
            try:
                meanwhile()
            except BaseException:  # re-raised once the pages in flight are told to stop
                abandon.set()
                for future in futures:
                    future.cancel()
                raise
            _, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
        errors = [error for future in futures if not future.cancelled() and (error := future.exception())]
        if errors:  # the first real failure, not a page that merely gave up because of it
            raise next((error for error in errors if not isinstance(error, _AbandonedError)), errors[0])
        return {offset: future.result() for offset, future in zip(offsets, futures, strict=True)}

    def _get(
        self,
        path: str,
        params: list[tuple[str, str]],
        project_id: str,
        deadline: Deadline,
        abandon: threading.Event | None = None,
    ) -> _Answer:
        query = canonical_query(params)
        url = f"{self._base_url}{path}?{query}"
        last_error: DcsError | None = None
        for attempt in range(self._retry.max_attempts):
            if abandon is not None and abandon.is_set():
                raise _AbandonedError("another page of this window failed")
            budget = deadline.remaining()
            if budget < self._min_request_time:
                raise last_error or DcsTimeoutError("the deadline leaves no time for a request to DCS")
            headers = sign(
                self._credentials,
                "GET",
                self._host,
                path,
                query,
                {"User-Agent": USER_AGENT, "X-Project-Id": project_id, "Accept": "application/json"},
                now=self._now(),
            )
            retry_after: float | None = None
            answered: int | None = None  # the status, once the headers have come
            with _Watchdog(deadline.remaining()) as watchdog:
                try:
                    with self._session.get(
                        url,
                        headers=headers,
                        timeout=(min(self._timeouts[0], budget), min(self._timeouts[1], budget)),
                        allow_redirects=False,
                        stream=True,
                    ) as response:
                        answered = response.status_code
                        # The read timeout holds per socket read; the watchdog holds the deadline for the whole read.
                        body = _read_within(response, self._max_page_bytes)
                        answer = _Answer(response.status_code, response.headers.get("X-Request-Id"), body)
                        retry_after_header = response.headers.get("Retry-After")
                except requests.Timeout:
                    last_error = DcsTimeoutError("DCS did not answer in time")
                except requests.ConnectionError as error:
                    if isinstance(error.args[0] if error.args else None, ReadTimeoutError):  # a body that stalled
                        last_error = DcsTimeoutError("DCS stopped sending in time", status=answered)
                    else:
                        last_error = DcsUnavailableError(f"could not reach DCS: {type(error).__name__}")
                except requests.RequestException as error:
                    last_error = DcsUnavailableError(f"could not reach DCS: {type(error).__name__}")
                else:
                    if not watchdog.fired and answer.status not in _RETRYABLE_STATUS:
                        _raise_for_status(answer)
                        return answer
                    last_error = _error_from(DcsUnavailableError, answer, "DCS is unavailable")
                    retry_after = parse_retry_after(retry_after_header, self._now)
            if watchdog.fired:  # whatever the read ended with, it was cut at the deadline: no retry
                if answered is None:
                    raise DcsTimeoutError("DCS did not answer before the deadline")
                raise DcsTimeoutError("the deadline passed while DCS was still sending", status=answered)
            delay = self._retry.delay(attempt, retry_after)
            if attempt + 1 == self._retry.max_attempts:
                break
            if deadline.remaining() - delay < self._min_request_time:
                last_error.message += "; the deadline leaves no time to retry"
                break
            logger.warning(
                "DCS request failed, retrying",
                extra={"error": str(last_error), "attempt": attempt + 1, "retry_in_seconds": round(delay, 3)},
            )
            self._pause(delay, abandon)
        assert last_error is not None  # for mypy: RetryPolicy keeps max_attempts >= 1  # nosec B101
        if isinstance(last_error, DcsUnavailableError | DcsTimeoutError):
            last_error.message += f" after {attempt + 1} attempt(s)"
        raise last_error

    def _pause(self, seconds: float, abandon: threading.Event | None) -> None:
        """Back off; a page of a window wakes early, and gives up, when another page has failed."""
        if self._sleep is not None:
            self._sleep(seconds)
        elif abandon is not None:
            abandon.wait(seconds)
        else:
            time.sleep(seconds)
        if abandon is not None and abandon.is_set():
            raise _AbandonedError("another page of this window failed")


_watching = threading.local()  # the watchdog of the request this thread is making, if any


class _Watchdog:
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
    watchdog: _Watchdog | None = getattr(_watching, "current", None)
    if watchdog is not None:
        watchdog.watch(conn.sock)
    conn.watchdog = watchdog  # type: ignore[attr-defined]


def _disarm(conn: BaseHTTPConnection | None) -> None:
    """Before a connection goes back to the pool, its request's watchdog lets go of its socket."""
    watchdog: _Watchdog | None = getattr(conn, "watchdog", None)
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


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections tell the watchdog of the request in this thread their socket."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedTlsPool}


def _read_within(response: requests.Response, max_bytes: int) -> bytes:
    """The body, decompressed (urllib3 inflates no more than a chunk at a time), and refused the
    moment it passes ``max_bytes``: a gzip bomb or a gigabyte of padding is never held. The
    request's watchdog holds the deadline."""
    chunks = []
    size = 0
    for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise DcsInvalidResponseError(
                f"DCS sent more than {max_bytes} bytes for one page",
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id"),
            )
        chunks.append(chunk)
    return b"".join(chunks)


class _AbandonedError(DcsError):
    """A page that stopped because another page of its window had already failed."""


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    request_id: str | None
    body: bytes


_P = TypeVar("_P", Page, InstancePage)
_Fetch = Callable[[int, int, Deadline, "threading.Event | None"], _Answer]  # offset, limit, deadline, abandon


@dataclass(frozen=True, slots=True)
class _PageKind(Generic[_P]):
    """How the pages of one DCS listing read: restores of a window, or a project's instances."""

    items: str  # what the listing holds, as an error message names it
    parse_body: Callable[[bytes, int, str | None], _P]  # body, offset, request ID
    peek_total: Callable[[bytes], int]
    empty: Callable[[int], _P]  # the page a 204 stands for, at an offset
    objects_per_item: int  # more JSON objects per item asked for than this is not a page (see _to_page)

    def parse(self, answer: _Answer, offset: int, limit: int) -> _P:
        """The page DCS answered for ``limit`` items from ``offset``; more items than asked is not a page."""
        if answer.status == 204:
            return self.empty(offset)
        # Counted before anything is built (braces inside strings count too: hence a floor for small pages).
        if answer.body.count(b"{") > max(self.objects_per_item * limit, _MIN_OBJECTS_ALLOWED) + 1:
            raise _too_many(answer, f"more JSON objects than that many {self.items} hold", limit)
        page = self.parse_body(answer.body, offset, answer.request_id)
        if page.size > limit:
            raise _too_many(answer, f"{page.size} {self.items}", limit)
        return page


_RESTORES = _PageKind("records", parse_page, peek_total, lambda offset: Page(offset, 0, [], []), 32)
# An instance holds more objects than a record: up to 20 tags, and nested ones among its fifty-odd fields.
_INSTANCES = _PageKind(
    "instances", parse_instance_page, peek_instance_num, lambda offset: InstancePage(offset, 0, [], []), 128
)


def _too_many(answer: _Answer, what: str, limit: int) -> DcsInvalidResponseError:
    message = f"DCS sent {what} when {limit} were asked for"
    return DcsInvalidResponseError(message, status=answer.status, request_id=answer.request_id)


def _raise_for_status(answer: _Answer) -> None:
    status = answer.status
    if status in (200, 204):
        return
    if status in (401, 403):
        raise _error_from(DcsAuthError, answer, "DCS refused the credentials")
    if status == 404:
        missing = _error_from(DcsNotFoundError, answer, "DCS has no such instance")
        # Only DCS's own codes: the gateway's APIGW.0101 (no such API) or a proxy's page mean a wrong endpoint
        if missing.error_code and missing.error_code.startswith("DCS."):
            raise missing
    if 400 <= status < 500:
        raise _error_from(DcsBadRequestError, answer, "DCS rejected the request")
    raise _error_from(DcsInvalidResponseError, answer, f"unexpected HTTP status {status} from DCS")


def _error_from(kind: type[_E], answer: _Answer, summary: str) -> _E:
    """Build an error carrying DCS's own ``error_code``/``error_msg`` when the body has them."""
    code = message = None
    try:
        body = json.loads(answer.body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        body = None
    if isinstance(body, dict):
        code = body.get("error_code") if isinstance(body.get("error_code"), str) else None
        message = body.get("error_msg") if isinstance(body.get("error_msg"), str) else None
    return kind(
        f"{summary}: {message}" if message else summary,
        status=answer.status,
        request_id=answer.request_id,
        error_code=code,
    )


# How far along a restore is: a record seen twice keeps the later status of the two.
_PROGRESS = {RestoreStatus.WAITING: 0, RestoreStatus.RESTORING: 1, RestoreStatus.SUCCEED: 2, RestoreStatus.FAILED: 2}


def _merge(pages: list[Page], total: int, max_records: int, max_invalid: int) -> RestoreResult:
    """The window's records in order, each restore once.

    A restore seen on two pages moved on while the window was paged: it keeps its place and its
    most advanced status (a failure found on page two is not lost to the ``restoring`` of page
    one). One that DCS reported both succeeded and failed is invalid, reported, and not forwarded.
    """
    chosen: dict[str, RestoreRecord] = {}  # a replaced value keeps the key's first place
    contradicted: dict[str, InvalidRecord] = {}
    invalid: list[InvalidRecord] = []
    for page in pages:
        invalid.extend(page.invalid)
        for position, record in enumerate(page.records):
            seen = chosen.get(record.restore_id)
            if seen is None or _PROGRESS[record.status] > _PROGRESS[seen.status]:
                chosen[record.restore_id] = record
            elif record.status in FINISHED and seen.status in FINISHED and record.status is not seen.status:
                contradicted.setdefault(
                    record.restore_id,
                    InvalidRecord(
                        index=_window_index(page, position),
                        restore_id=record.restore_id,
                        reason=f"status: DCS reported this restore both {seen.status} and {record.status}",
                    ),
                )
    records = [record for restore_id, record in chosen.items() if restore_id not in contradicted]
    invalid = sorted([*invalid, *contradicted.values()], key=lambda record: record.index)  # the cap keeps the first
    truncated = total > max_records or len(records) > max_records
    return RestoreResult.collect(records[:max_records], invalid, total, truncated, max_invalid=max_invalid)


def _window_index(page: Page, position: int) -> int:
    """Where the ``position``-th valid record of ``page`` stood in the window (its invalid ones had places too)."""
    taken = {record.index for record in page.invalid}
    places = (index for index in itertools.count(page.offset) if index not in taken)
    return next(itertools.islice(places, position, None))


def _check_endpoint(endpoint: str, *, allow_http: bool = False, security_token: bool = False) -> tuple[str, str]:
    """``https://host[:port]``; plain ``http`` only on loopback, where the emulator runs, unless ``allow_http``.

    A security token never goes over plain http off loopback, ``allow_http`` or not: the signature proves the
    secret key without revealing it, but the token travels as it is, a credential in the clear.
    """
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("the DCS endpoint must be an https:// URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("the DCS endpoint must be scheme and host only, with no path, query or user")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        if not allow_http:
            raise ValueError("the DCS endpoint must use https (plain http is allowed on loopback only)")
        if security_token:
            raise ValueError(
                "the DCS endpoint must use https: temporary credentials' X-Security-Token never goes over "
                "plain http off loopback"
            )
    return f"{parts.scheme}://{parts.netloc}", parts.netloc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
