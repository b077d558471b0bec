"""How far a listing has got, for whoever watches a long read (the local command's progress line).

A listener is set around a block of code and told ``(pages_done, pages_total)`` each time a page of a
listing arrives, from the thread that fetched it. The total is what DCS has told so far: it grows if
DCS's total grows while paging. With no listener, which is how the functions run, a listing costs one
context-variable lookup and nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

PageListener = Callable[[int, int], None]
"""Called with (pages done, pages in all); from paging threads, one call at a time."""

_listener: ContextVar[PageListener | None] = ContextVar("dcs_restores_page_listener", default=None)


@contextmanager
def reporting_pages(listener: PageListener) -> Iterator[None]:
    """Tell ``listener`` about every paged listing that starts in this block (in this thread)."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class PageCounter:
    """One listing's pages: counted as they arrive, from any thread, and reported in order."""

    def __init__(self, listener: PageListener) -> None:
        self._listener = listener
        self._lock = threading.Lock()
        self._done = 0
        self._total = 0

    def expect(self, total: int, *, arrived: int) -> None:
        """The listing has ``total`` pages as far as DCS has said, ``arrived`` of them in hand."""
        with self._lock:
            changed = (total, arrived) != (self._total, self._done)
            self._total, self._done = total, max(self._done, arrived)
            if changed:
                self._listener(self._done, self._total)

    def arrived(self) -> None:
        with self._lock:
            self._done += 1
            self._total = max(self._total, self._done)
            self._listener(self._done, self._total)


def page_counter() -> PageCounter | None:
    """A counter for a listing starting now, if anyone listens."""
    listener = _listener.get()
    return None if listener is None else PageCounter(listener)
