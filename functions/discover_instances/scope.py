"""What a sweep covers: which instances (project and filters) and which window, from its event.

The window is fixed on the first page (from the scheduled time and a lookback, or as given) and
travels in every later page's event, so every instance of one sweep is watched over the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dcs_restores import (
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    InstanceQuery,
    InvalidQueryError,
    SafeId,
    TimeWindow,
    UtcTime,
    first_error,
)
from restore_watch.settings import MAX_LOOKBACK, DcsSettings

# A page of 200 instances and their results, with the longest names, stays under Step Functions' 256 KB
# (tests/workflows/test_state_size.py measures it; 500 would pass the limit). The sweep asks for 200 itself.
DEFAULT_PAGE_SIZE = 200


class SweepEvent(BaseModel):
    """A sweep's input as a user or a schedule gives it, or the ``next`` of a page's answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project_id: SafeId | None = None
    name: Any = None  # the filters are checked by InstanceQuery, which names the field
    name_equal: Any = False
    status: Any = None
    tags: Any = None
    begin_time: UtcTime | None = None
    end_time: UtcTime | None = None
    scheduled_time: UtcTime | None = None
    lookback: Annotated[timedelta, Field(gt=timedelta(0), le=MAX_LOOKBACK)] | None = None
    records: Literal["none", "failed"] = "none"  # what each watch returns: a sweep's state has no room for all
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, strict=True)] = 0
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, strict=True)] = DEFAULT_PAGE_SIZE
    correlation_id: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    # The first page's total, carried to later pages: a total that moved means the fleet changed mid-sweep.
    listed_total: Annotated[int, Field(ge=0, strict=True)] | None = None
    # The instances the page before listed: one that shows up again (pushed along by an instance added
    # before it) is not watched twice. One page at most, so the state stays bounded.
    previous_page_ids: Annotated[tuple[SafeId, ...], Field(max_length=MAX_PAGE_SIZE)] = ()
    # Step Functions adds this to an execution another one starts (startExecution.sync): accepted, not used.
    started_by: str | None = Field(default=None, alias="AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")

    @model_validator(mode="after")
    def _one_way_to_give_the_window(self) -> Self:
        if (self.begin_time is None) != (self.end_time is None):
            raise ValueError("give both begin_time and end_time, or neither")
        if self.begin_time is not None and (self.scheduled_time is not None or self.lookback is not None):
            raise ValueError("give begin_time and end_time, or scheduled_time and lookback, not both")
        return self


class Scope(BaseModel):
    """A sweep's scope, resolved: the query of this page and the window every watch uses."""

    model_config = ConfigDict(frozen=True)

    query: InstanceQuery
    begin_time: datetime
    end_time: datetime
    records: Literal["none", "failed"]
    correlation_id: str | None
    listed_total: int | None  # None on the first page
    previous_page_ids: tuple[str, ...]  # () on the first page

    def next_event(self, offset: int, listed_total: int, page_ids: list[str]) -> dict[str, Any]:
        """The event of the page at ``offset``: this scope with its window fixed, the total to expect and the
        instances this page listed."""
        event: dict[str, Any] = {
            "project_id": self.query.project_id,
            "begin_time": _iso(self.begin_time),
            "end_time": _iso(self.end_time),
            "records": self.records,
            "offset": offset,
            "page_size": self.query.limit,
            "listed_total": listed_total,
            "previous_page_ids": page_ids,
            **self.filters(),
        }
        if self.correlation_id is not None:
            event["correlation_id"] = self.correlation_id
        return event

    def filters(self) -> dict[str, Any]:
        return {
            "name": self.query.name,
            "name_equal": self.query.name_equal,
            "status": self.query.status,
            "tags": dict(self.query.tags),
        }

    def describe(self) -> dict[str, Any]:
        """The sweep as each page's answer states it."""
        return {
            "project_id": self.query.project_id,
            "begin_time": _iso(self.begin_time),
            "end_time": _iso(self.end_time),
            "records": self.records,
            "filters": self.filters(),
        }


def scope_of(event: Any, settings: DcsSettings, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Scope:
    """The scope an event asks for; ``InvalidQueryError`` names the first bad field."""
    if not isinstance(event, Mapping):
        raise InvalidQueryError("event", "must be a JSON object")
    try:
        sweep = SweepEvent.model_validate(event)
    except ValidationError as error:
        raise InvalidQueryError(*first_error(error.errors(include_url=False), "event")) from None
    project_id = sweep.project_id or settings.dcs_project_id
    if not settings.may_read(project_id):  # the function's credentials are not for any project a caller names
        raise InvalidQueryError("project_id", "is not a project this function reads (see ALLOWED_PROJECT_IDS)")
    query = InstanceQuery.of(
        project_id=project_id,
        name=sweep.name,
        name_equal=sweep.name_equal,
        status=sweep.status,
        tags=sweep.tags or {},
        offset=sweep.offset,
        limit=sweep.page_size,
    )
    window = _window(sweep, settings, now)
    return Scope(
        query=query,
        begin_time=window.begin,
        end_time=window.end,
        records=sweep.records,
        correlation_id=sweep.correlation_id,
        listed_total=sweep.listed_total,
        previous_page_ids=sweep.previous_page_ids,
    )


def _window(sweep: SweepEvent, settings: DcsSettings, now: Callable[[], datetime]) -> TimeWindow:
    if sweep.begin_time is not None and sweep.end_time is not None:
        window = TimeWindow.of(sweep.begin_time, sweep.end_time)
    else:
        window = TimeWindow.back_from(sweep.scheduled_time or now(), sweep.lookback or settings.schedule_lookback)
    return window.at_most(settings.max_window_days)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
