"""The DCS client: restore records of a window and a project's instances, paged concurrently and validated.

The requests themselves (signing, retries, the deadline, the size bound) are the :mod:`.transport`'s.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Generic, Self, TypeVar

from .errors import DcsInvalidResponseError
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
from .retry import Deadline, RetryPolicy
from .signing import Credentials
from .transport import AbandonedError, Answer, Transport

DEFAULT_MAX_RECORDS = 10_000
DEFAULT_MAX_INSTANCES = 10_000
DEFAULT_MAX_INVALID_RECORDS = 1_000  # kept for the report; the rest are counted (a window of garbage stays small)
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
        Even then, credentials with a security token are refused such an endpoint (see ``check_endpoint``)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        if min(max_records, max_instances, max_workers) < 1:
            raise ValueError("max_records, max_instances and max_workers must be at least 1")
        self._transport = Transport(
            endpoint,
            credentials,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retry=retry or RetryPolicy(),
            max_connections=max_workers,
            max_body_bytes=max_page_bytes,
            min_request_time=min_request_time,
            allow_http=allow_http,
            sleep=sleep,
            now=now,
        )
        self._max_workers = max_workers
        self._page_size = page_size
        self._max_records = max_records
        self._max_instances = max_instances
        self._max_invalid = max_invalid_records

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

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

        def fetch(offset: int, limit: int, deadline: Deadline, abandon: threading.Event | None) -> Answer:
            return self._transport.get(
                query.path, query.page_params(offset, limit), query.project_id, deadline, abandon
            )

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
    ) -> dict[int, Answer]:
        """Fetch pages concurrently, running ``meanwhile`` in this thread while they travel.

        Pages are validated by the caller once they have all arrived: validation holds the GIL,
        and done while other pages are still arriving it makes every socket read wait its turn
        (measured: a 10,000-record window took 0.28 s that way, 0.20 s this way).
        """
        workers = min(self._max_workers, len(offsets))
        abandon = threading.Event()  # set by the first page that fails: the others stop retrying

        def fetch(offset: int) -> Answer:
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
            raise next((error for error in errors if not isinstance(error, AbandonedError)), errors[0])
        return {offset: future.result() for offset, future in zip(offsets, futures, strict=True)}


_P = TypeVar("_P", Page, InstancePage)
_Fetch = Callable[[int, int, Deadline, "threading.Event | None"], Answer]  # offset, limit, deadline, abandon


@dataclass(frozen=True, slots=True)
class _PageKind(Generic[_P]):
    """How the pages of one DCS listing read: restores of a window, or a project's instances."""

    items: str  # what the listing holds, as an error message names it
    parse_body: Callable[[bytes, int, str | None], _P]  # body, offset, request ID
    peek_total: Callable[[bytes], int]
    empty: Callable[[int], _P]  # the page a 204 stands for, at an offset
    objects_per_item: int  # more JSON objects per item asked for than this is not a page (see _to_page)

    def parse(self, answer: Answer, offset: int, limit: int) -> _P:
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


def _too_many(answer: Answer, what: str, limit: int) -> DcsInvalidResponseError:
    message = f"DCS sent {what} when {limit} were asked for"
    return DcsInvalidResponseError(message, status=answer.status, request_id=answer.request_id)


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
