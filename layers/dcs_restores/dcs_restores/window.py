"""Times as DCS reads them (UTC, to the second, four-digit years) and the window between two of them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

from .errors import InvalidQueryError

MIN_YEAR, MAX_YEAR = 1000, 9999
DCS_TIME_FORMAT = "%Y%m%d%H%M%S"
_DCS_TIME = re.compile(r"^\d{14}$")


def to_utc(value: Any) -> datetime:
    """Read ``yyyyMMddHHmmss`` (UTC), an ISO 8601 string with an offset, or an aware datetime."""
    if isinstance(value, str):
        text = value.strip()
        if _DCS_TIME.match(text):
            try:
                value = datetime.strptime(text, DCS_TIME_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                raise ValueError(f"{text!r} is not a real date and time") from None
        else:
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError("expected yyyyMMddHHmmss or ISO 8601 with a timezone") from None
    if not isinstance(value, datetime):
        raise ValueError("expected yyyyMMddHHmmss or ISO 8601 with a timezone")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a datetime needs a timezone; yyyyMMddHHmmss is read as UTC")
    try:  # every format reaches the year check, yyyyMMddHHmmss too
        moment = value.astimezone(UTC).replace(microsecond=0)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError("is out of range in UTC") from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:  # DCS reads four-digit years; strftime writes year 1 as "1"
        raise ValueError(f"must be in the years {MIN_YEAR} to {MAX_YEAR} (UTC)")
    return moment


def format_dcs_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(DCS_TIME_FORMAT)


UtcTime = Annotated[datetime, BeforeValidator(to_utc)]


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """From ``begin`` to ``end``, both included: UTC, to the second, in the years DCS reads, begin not after end.

    Built by :meth:`of` or :meth:`back_from`, which refuse anything else with an :class:`InvalidQueryError`
    naming the field at fault; a watch and a sweep read the same window the same way.
    """

    begin: datetime
    end: datetime

    @classmethod
    def of(cls, begin: datetime, end: datetime) -> TimeWindow:
        """The window between two times already read (``UtcTime``)."""
        if begin > end:
            raise InvalidQueryError("begin_time", "is after end_time")
        return cls(begin, end)

    @classmethod
    def back_from(cls, end: datetime, lookback: timedelta, *, field: str = "scheduled_time") -> TimeWindow:
        """The ``lookback`` up to ``end`` (a schedule's time, or now); ``field`` names ``end`` when the window
        would start before the years DCS reads."""
        end = end.astimezone(UTC).replace(microsecond=0)
        try:
            begin = to_utc(end - lookback)
        except (OverflowError, ValueError):  # before year 1, or before year 1000
            raise InvalidQueryError(field, "the window leaves the years DCS reads") from None
        return cls.of(begin, end)

    @property
    def length(self) -> timedelta:
        return self.end - self.begin

    def at_most(self, days: int) -> TimeWindow:
        """This window, if it is no longer than ``days`` (a function's MAX_WINDOW_DAYS)."""
        if self.length > timedelta(days=days):
            raise InvalidQueryError("begin_time", f"the window is longer than {days} days")
        return self
