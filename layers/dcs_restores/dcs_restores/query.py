"""What to ask DCS for, validated before anything goes into a URL."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Container, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

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
# Where a page starts and how many items it holds: integers only (no true, no "10"), in range.
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET, strict=True)]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, strict=True)]


class ListingQuery(BaseModel):
    """What one DCS listing is asked for: the whole listing, or the single page ``offset``/``limit`` name.

    Each kind declares its own fields (their order is the order errors are found in) and its URL.
    """

    # The field a failure of the whole model names.
    whole_model_field: ClassVar[str]
    if TYPE_CHECKING:  # declared as fields by each kind, in its own order
        project_id: str
        offset: int | None
        limit: int | None

    @classmethod
    def of(cls, **fields: Any) -> Self:
        """Build a query, turning any validation failure into :class:`InvalidQueryError`."""
        try:
            return cls.model_validate(fields)
        except ValidationError as error:
            raise InvalidQueryError(*first_error(error.errors(include_url=False), cls.whole_model_field)) from None

    @property
    def single_page(self) -> bool:
        return self.offset is not None or self.limit is not None

    @property
    @abstractmethod
    def path(self) -> str:
        """The listing's path, from IDs that are safe in a URL (SAFE_ID_PATTERN)."""

    @abstractmethod
    def page_params(self, offset: int, limit: int) -> list[tuple[str, str]]:
        """The query pairs DCS receives for one page of the listing."""


class RestoreQuery(ListingQuery):
    """One instance, one time window; a single page when ``offset`` or ``limit`` is given."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)
    whole_model_field = "begin_time"

    project_id: SafeId
    instance_id: SafeId
    begin_time: UtcTime
    end_time: UtcTime
    offset: Offset | None = None
    limit: Limit | None = None

    @model_validator(mode="after")
    def _window_in_order(self) -> Self:
        TimeWindow.of(self.begin_time, self.end_time)
        return self

    @property
    def window(self) -> TimeWindow:
        return TimeWindow(self.begin_time, self.end_time)  # in order: validated as the query was

    @property
    def path(self) -> str:
        return f"/v2/{self.project_id}/instances/{self.instance_id}/restores"

    def page_params(self, offset: int, limit: int) -> list[tuple[str, str]]:
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
