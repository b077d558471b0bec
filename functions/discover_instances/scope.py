"""What a sweep covers: which instances (project and filters) and which window, from its event.

The window is fixed on the first page (from the scheduled time and a lookback, or as given) and
travels in every later page's event, so every instance of one sweep is watched over the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from common.admission import admit_project
from common.settings import DcsSettings
from common.sweep import SweepDescription, SweepEvent, SweepFilters
from dcs_restores import InstanceQuery, InvalidQueryError, TimeWindow, first_error


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

    def next_event(self, offset: int, listed_total: int, page_ids: list[str]) -> SweepEvent:
        """The event of the page at ``offset``: this scope with its window fixed, the total to expect and the
        instances this page listed."""
        event: dict[str, Any] = {
            "project_id": self.query.project_id,
            "begin_time": self.begin_time,
            "end_time": self.end_time,
            "records": self.records,
            "offset": offset,
            "page_size": self.query.limit,
            "listed_total": listed_total,
            "previous_page_ids": page_ids,
            **self.filters().model_dump(),
        }
        if self.correlation_id is not None:
            event["correlation_id"] = self.correlation_id
        return SweepEvent.model_validate(event)

    def filters(self) -> SweepFilters:
        return SweepFilters(
            name=self.query.name, name_equal=self.query.name_equal, status=self.query.status, tags=dict(self.query.tags)
        )

    def describe(self) -> SweepDescription:
        """The sweep as each page's answer states it."""
        return SweepDescription(
            project_id=self.query.project_id,
            begin_time=_iso(self.begin_time),
            end_time=_iso(self.end_time),
            records=self.records,
            filters=self.filters(),
        )


def scope_of(event: Any, settings: DcsSettings, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Scope:
    """The scope an event asks for; ``InvalidQueryError`` names the first bad field."""
    if not isinstance(event, Mapping):
        raise InvalidQueryError("event", "must be a JSON object")
    try:
        sweep = SweepEvent.model_validate(event)
    except ValidationError as error:
        raise InvalidQueryError(*first_error(error.errors(include_url=False), "event")) from None
    project_id = sweep.project_id or settings.dcs_project_id
    admit_project(settings, project_id)
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
