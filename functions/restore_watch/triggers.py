"""Trigger adapters: a schedule or workflow event, or an HTTP API route's parameters, in; a ``WatchRequest`` out.

The HTTP API's route (``http_api``) hands its validated parameters to ``request_from_http``. Nothing
here talks to DCS: an event that does not validate is refused before any request is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from common.admission import admit_project
from common.settings import MAX_LOOKBACK
from common.timing import Timing
from dcs_restores import InvalidQueryError, RestoreQuery, SafeId, TimeWindow, UtcTime, first_error

from .budget import shortest_time_limit
from .errors import UnknownEventError
from .limits import LAMBDA_RESPONSE_LIMIT, ResponseBytes
from .payload import RecordSelection
from .request import WatchRequest
from .settings import Settings
from .shaping import ResponseLimit

_Model = TypeVar("_Model", bound=BaseModel)
# Why an event naming several instances is refused: watching many is the fleet sweep's job.
ONE_INSTANCE = "one invocation watches one instance: watch many with the fleet sweep (see the README's Workflows)"
# The least time_limit_seconds: what the function's own timing needs to read, forward one failed restore and answer.
MIN_TIME_LIMIT_SECONDS = shortest_time_limit(Timing())


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Carried into every log line of the invocation (e.g. a Step Functions execution ID).
    correlation_id: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    # One restore to follow: its record comes back as the payload's ``restore`` (null until DCS lists it).
    restore_id: SafeId | None = None

    # What the payload may carry: a Step Functions state holds 256 KB, Lambda's answer 6 MB.
    records: RecordSelection = RecordSelection.ALL
    max_response_bytes: Annotated[ResponseBytes, Field(strict=True)] | None = None  # in JSON: no "65536", no true
    # A workflow's step may allow less time than Lambda's: the watch then ends its work within it, with a named
    # error a Retry can match, before the step's own timeout cuts it off as States.Timeout.
    time_limit_seconds: Annotated[int, Field(ge=MIN_TIME_LIMIT_SECONDS, le=900, strict=True)] | None = None

    def response_limit(self, settings: Settings) -> ResponseLimit:
        """The event may lower the configured size limit, never raise it."""
        return ResponseLimit(
            self.records, min(self.max_response_bytes or LAMBDA_RESPONSE_LIMIT, settings.max_response_bytes)
        )


class SchedulerInput(_Event):
    """EventBridge Scheduler's ``Input``, passed as-is: the window ends at the scheduled time."""

    instance_id: SafeId
    project_id: SafeId | None = None
    lookback: Annotated[timedelta, Field(gt=timedelta(0), le=MAX_LOOKBACK)] | None = None  # default: SCHEDULE_LOOKBACK
    scheduled_time: UtcTime
    # When the restore being followed started: the window begins there (the lookback is not used), so a
    # workflow polling a long restore keeps it in the window however long it waits.
    started_at: UtcTime | None = None

    @model_validator(mode="after")
    def _started_before_scheduled(self) -> Self:
        if self.started_at is not None and self.started_at > self.scheduled_time:
            raise ValueError("started_at is after scheduled_time")
        return self


class ScheduledRuleEvent(BaseModel):
    """A classic EventBridge scheduled rule: the instance comes from configuration."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    detail_type: Annotated[Literal["Scheduled Event"], Field(alias="detail-type")]
    source: Literal["aws.events"]
    time: UtcTime


class DirectInput(_Event):
    """A direct or Step Functions invoke: the window is given."""

    instance_id: str
    begin_time: Any
    end_time: Any
    project_id: str | None = None
    offset: Any = None  # checked by RestoreQuery: integers only (no true, no "10"), in range
    limit: Any = None


def is_http_event(event: Any) -> bool:
    return (
        isinstance(event, Mapping)
        and event.get("version") == "2.0"
        and "requestContext" in event
        and "routeKey" in event
    )


def request_from_event(event: Any, settings: Settings) -> WatchRequest:
    """The one instance's window a schedule or workflow event asks for."""
    if not isinstance(event, Mapping):
        raise UnknownEventError("the event must be a JSON object")
    if "instance_ids" in event:  # the list a schedule once watched one by one: refused by name, not as a typo
        raise InvalidQueryError("instance_ids", ONE_INSTANCE)
    if event.get("detail-type") == "Scheduled Event":
        rule = _validate(ScheduledRuleEvent, event)
        if settings.dcs_instance_id is None:
            raise InvalidQueryError("instance_id", "a scheduled rule needs DCS_INSTANCE_ID configured")
        window = TimeWindow.back_from(rule.time, settings.schedule_lookback, field="time")
        query = build_query(settings, settings.dcs_instance_id, None, window.begin, window.end)
        return WatchRequest(query, ResponseLimit(max_bytes=settings.max_response_bytes))
    if "scheduled_time" in event or "lookback" in event:
        schedule = _validate(SchedulerInput, event)
        if schedule.started_at is not None:
            window = TimeWindow.of(schedule.started_at, schedule.scheduled_time)
        else:
            window = TimeWindow.back_from(schedule.scheduled_time, schedule.lookback or settings.schedule_lookback)
        query = build_query(settings, schedule.instance_id, schedule.project_id, window.begin, window.end)
        return WatchRequest(query, schedule.response_limit(settings), schedule.restore_id, schedule.time_limit_seconds)
    if "begin_time" in event or "end_time" in event:
        direct = _validate(DirectInput, event)
        query = build_query(
            settings,
            direct.instance_id,
            direct.project_id,
            direct.begin_time,
            direct.end_time,
            offset=direct.offset,
            limit=direct.limit,
        )
        return WatchRequest(query, direct.response_limit(settings), direct.restore_id, direct.time_limit_seconds)
    raise UnknownEventError(
        "unknown event: expected an HTTP API request, a schedule input (instance_id, lookback, scheduled_time), "
        "a scheduled rule, or a direct input (instance_id, begin_time, end_time)"
    )


def request_from_http(
    settings: Settings,
    instance_id: str,
    begin_time: str,
    end_time: str,
    *,
    project_id: str | None = None,
    offset: int | None = None,
    limit: int | None = None,
    records: RecordSelection = RecordSelection.ALL,
    restore_id: str | None = None,
) -> WatchRequest:
    """The window an HTTP API request asks for, from the route's parameters (their types already checked)."""
    query = build_query(settings, instance_id, project_id, begin_time, end_time, offset=offset, limit=limit)
    return WatchRequest(query, ResponseLimit(records, settings.max_response_bytes), restore_id, http=True)


def build_query(
    settings: Settings,
    instance_id: Any,
    project_id: Any,
    begin: Any,
    end: Any,
    *,
    offset: Any = None,
    limit: Any = None,
) -> RestoreQuery:
    """A ``RestoreQuery`` within the configured limits; ``InvalidQueryError`` names the bad field."""
    query = RestoreQuery.of(
        project_id=project_id or settings.dcs_project_id,
        instance_id=instance_id,
        begin_time=begin,
        end_time=end,
        offset=offset,
        limit=limit,
    )
    admit_project(settings, query.project_id)
    query.window.at_most(settings.max_window_days)
    return query


def _validate(model: type[_Model], event: Mapping[str, Any]) -> _Model:
    try:
        return model.model_validate(event)
    except ValidationError as error:
        raise InvalidQueryError(*first_error(error.errors(include_url=False), "event")) from None
