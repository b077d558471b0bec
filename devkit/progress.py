"""The progress line of ``dcs-restore-watch invoke``: pages of DCS read so far, rewritten in place on stderr.

Only on a terminal, and only for a window of more than one page: piped or redirected, stderr holds the
summary lines and nothing else. The layer tells the line each page as it arrives (``dcs_restores.reporting_pages``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from dcs_restores import reporting_pages

CLEAR = "\r\x1b[K"  # back to the start of the line, and erase it


class ProgressLine:
    """``dcs-restore-watch: reading DCS pages 3/10`` rewritten in place, at most every ``interval`` seconds."""

    def __init__(self, stream: TextIO, *, interval: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._shown_at: float | None = None

    def __call__(self, done: int, total: int) -> None:
        if total < 2:  # one page is over before a line could say so
            return
        now = self._clock()
        if done < total and self._shown_at is not None and now - self._shown_at < self._interval:
            return
        self._stream.write(f"{CLEAR}dcs-restore-watch: reading DCS pages {done}/{total}")
        self._stream.flush()
        self._shown_at = now
        if done == total:  # read: whatever the handler says next starts on a clean line
            self.clear()

    def clear(self) -> None:
        """Erase the line, so that what is said next starts on a clean one."""
        if self._shown_at is not None:
            self._stream.write(CLEAR)
            self._stream.flush()
            self._shown_at = None


@contextmanager
def progress_on(stream: TextIO) -> Iterator[None]:
    """Show the pages read while the block runs, when ``stream`` is a terminal; do nothing otherwise."""
    if not stream.isatty():
        yield
        return
    line = ProgressLine(stream)
    try:
        with reporting_pages(line):
            yield
    finally:
        line.clear()
