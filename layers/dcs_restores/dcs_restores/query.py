"""What to ask DCS for, validated before anything goes into a URL."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidQueryError
from .window import TimeWindow, UtcTime, format_dcs_time
from .window import to_utc as to_utc  # read here by the command too

MAX_PAGE_SIZE = 1000
MAX_OFFSET = 1_000_000  # far past any window a function may read (MAX_RECORDS is at most 100,000)
DEFAULT_PAGE_SIZE = 10  # DCS's own default when limit is left out

# Letters, digits, "-" and "_": no "/", "." (so no ".."), "%", whitespace or anything to escape.
SAFE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


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
        TimeWindow.of(self.begin_time, self.end_time)
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
    def window(self) -> TimeWindow:
        return TimeWindow(self.begin_time, self.end_time)  # in order: validated as the query was

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
    """The field (dotted path, minus ``skip`` parts) and a readable reason of pydantic's first error.

    An :class:`InvalidQueryError` raised by a validator (a :class:`TimeWindow` out of order) keeps its own.
    """
    first = errors[0]
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, InvalidQueryError):
        return raised.field, raised.reason
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
