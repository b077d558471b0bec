"""What to ask DCS for, validated before anything goes into a URL."""

from __future__ import annotations

import re
from collections.abc import Container, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidQueryError

MAX_PAGE_SIZE = 1000
MAX_OFFSET = 1_000_000  # far past any window a function may read (MAX_RECORDS is at most 100,000)
MIN_YEAR, MAX_YEAR = 1000, 9999
DEFAULT_PAGE_SIZE = 10  # DCS's own default when limit is left out
DCS_TIME_FORMAT = "%Y%m%d%H%M%S"

# Letters, digits, "-" and "_": no "/", "." (so no ".."), "%", whitespace or anything to escape.
SAFE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
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
SafeId = Annotated[str, Field(pattern=SAFE_ID_PATTERN)]


class RestoreQuery(BaseModel):
    """One instance, one time window; a single page when ``offset`` or ``limit`` is given."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    project_id: SafeId
    instance_id: SafeId
    begin_time: UtcTime
    end_time: UtcTime
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, strict=True)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, strict=True)] | None = None

    @model_validator(mode="after")
    def _window_in_order(self) -> Self:
        if self.begin_time > self.end_time:
            raise ValueError("begin_time is after end_time")
        return self

    @classmethod
    def of(cls, **fields: Any) -> RestoreQuery:
        """Build a query, turning any validation failure into :class:`InvalidQueryError`."""
        try:
            return cls.model_validate(fields)
        except ValidationError as error:
            # A failure of the whole model is the window's order: name its first field.
            raise InvalidQueryError(*first_error(error.errors(include_url=False), "begin_time")) from None

    @property
    def single_page(self) -> bool:
        return self.offset is not None or self.limit is not None

    @property
    def path(self) -> str:
        """The listing's path: both IDs are safe in a URL (SAFE_ID_PATTERN)."""
        return f"/v2/{self.project_id}/instances/{self.instance_id}/restores"

    def page_params(self, offset: int, limit: int) -> list[tuple[str, str]]:
        """The query pairs DCS receives for one page of this window."""
        return [
            ("begin_time", format_dcs_time(self.begin_time)),
            ("end_time", format_dcs_time(self.end_time)),
            ("offset", str(offset)),
            ("limit", str(limit)),
        ]


def first_error(errors: Sequence[Mapping[str, Any]], default_field: str, skip: Container[str] = ()) -> tuple[str, str]:
    """The field (dotted path, minus ``skip`` parts) and a readable reason of pydantic's first error."""
    first = errors[0]
    location = tuple(first.get("loc", ()))
    if "[key]" in location:  # a bad key of a mapping: name the mapping, not the key that is wrong
        location = location[: location.index("[key]") - 1]
    field = ".".join(str(part) for part in location if part not in skip) or default_field
    if first.get("type") == "missing":
        return field, "is required"
    if first.get("type") == "string_pattern_mismatch":
        if first.get("ctx", {}).get("pattern") == SAFE_ID_PATTERN:
            return field, "must be 1-64 letters, digits, '-' or '_'"
        return field, "holds characters that are not allowed here"
    return field, str(first.get("msg", "is invalid")).removeprefix("Value error, ")
