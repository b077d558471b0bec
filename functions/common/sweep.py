"""The fleet sweep's contract: what its steps hand each other, declared once.

```
sweep input ──► Discover ──► DiscoveredPage ──► Map: a watch per InstanceToWatch ──► Watched | Failed
   ▲                                                                                     │
   └────── SummaryAnswer.next ◄── Summarise ◄── SummaryInput (the summary so far, PageWithResults)
```

The discovery builds its answer with these models and the summary validates its input with them;
the state machine's selectors read their fields (the tests hold every path of the ASL to them).
Pure pydantic: the summary function loads this without Powertools.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from dcs_restores import MAX_OFFSET, MAX_PAGE_SIZE, SafeId, UtcTime

from .settings import MAX_LOOKBACK

# A page of 200 instances and their results, with the longest names, stays under Step Functions' 256 KB
# (tests/workflows/test_state_size.py measures it; 500 would pass the limit). The sweep's Start state sets it.
PAGE_SIZE = 200
# Texts are cut by what they weigh as escaped JSON, the larger of the two encodings a state may be
# measured in (a four-byte character is 12 bytes there), never by their length: a page stays bounded.
MAX_NAME_BYTES = 192  # DCS's 64 characters whole in ASCII, 32 in other scripts, 16 of four-byte characters
MAX_LABEL_BYTES = 32  # engine, status: DCS's are ASCII words of 12 characters at most
MAX_FAILED_LISTED = 100  # failed instances a summary names; it counts the rest
MAX_CAUSE_CHARS = 1000

Count = Annotated[int, Field(ge=0, strict=True)]
_Text = Annotated[str, Field(min_length=1, max_length=1024)]
Records = Literal["none", "failed"]  # what each watch returns: a sweep's state has no room for all


def json_weight(text: str) -> int:
    """Bytes ``text`` weighs inside a JSON string, ASCII-escaped (never less than in UTF-8)."""
    return len(json.dumps(text)) - len('""')


def _weighing_at_most(max_bytes: int) -> AfterValidator:
    def check(text: str) -> str:
        if json_weight(text) > max_bytes:
            raise ValueError(f"weighs more than {max_bytes} bytes as escaped JSON; the discovery cuts it to that")
        return text

    return AfterValidator(check)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SweepEvent(_Strict):
    """A sweep's input as a user or a schedule gives it, or the ``next`` of a page's answer."""

    project_id: SafeId | None = None
    name: Any = None  # the filters are checked by InstanceQuery, which names the field
    name_equal: Any = False
    status: Any = None
    tags: Any = None
    begin_time: UtcTime | None = None
    end_time: UtcTime | None = None
    scheduled_time: UtcTime | None = None
    lookback: Annotated[timedelta, Field(gt=timedelta(0), le=MAX_LOOKBACK)] | None = None
    records: Records = "none"
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, strict=True)] = 0
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, strict=True)] = PAGE_SIZE
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

    def to_json(self) -> dict[str, Any]:
        """The event as it travels: the fields it was given, nothing added."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


class SweepFilters(_Strict):
    """The instance filters of a sweep, as the discovery resolved them."""

    name: str | None
    name_equal: bool
    status: str | None
    tags: dict[str, str]


class SweepDescription(_Strict):
    """The sweep as each page's answer states it: every watch of the sweep reads this window."""

    project_id: _Text
    begin_time: _Text  # ISO 8601, UTC
    end_time: _Text
    records: Records
    filters: SweepFilters


class InstanceToWatch(_Strict):
    """What a sweep carries of an instance, each text cut to a weight so a page's size stays bounded."""

    instance_id: _Text
    name: Annotated[str, _weighing_at_most(MAX_NAME_BYTES)] | None = None
    engine: Annotated[str, _weighing_at_most(MAX_LABEL_BYTES)] | None = None
    status: Annotated[str, _weighing_at_most(MAX_LABEL_BYTES)] | None = None


class DiscoveredPage(_Strict):
    """The discovery's answer: one page of the fleet, and the event of the next page (``None`` at the end)."""

    sweep: SweepDescription
    instances: list[InstanceToWatch]
    offset: Count
    count: Count  # instances on this page
    total: Count  # as DCS listed the fleet
    invalid: Count  # instances DCS listed that failed validation: not watched, logged by the discovery
    repeated: Count  # instances listed again on this page, or already on the page before: not watched twice
    truncated: bool  # the discovery stopped at MAX_INSTANCES
    fleet_changed: bool  # the listing moved since the first page: an instance may have been skipped
    next: SweepEvent | None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


class Counts(_Strict):
    """Records by status, as the watch counts them (``dcs_restores.RestoreStatus``)."""

    waiting: Count = 0
    restoring: Count = 0
    succeed: Count = 0
    failed: Count = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{status: getattr(self, status) + getattr(other, status) for status in Counts.model_fields})


class Watched(_Strict):
    """An instance watched, as the Map's ResultSelector trims the watch's payload: its counts and what it queued."""

    instance_id: _Text
    counts: Counts
    queued: Count


class Failed(_Strict):
    """An instance that could not be watched, after any retries: the name of the error."""

    error: _Text
    instance_id: _Text


class PageWithResults(DiscoveredPage):
    """A page as the state holds it entering Summarise: one result per instance, in no promised order."""

    results: list[Watched | Failed]

    @model_validator(mode="after")
    def _one_result_per_instance(self) -> Self:
        """Results are matched to instances by ID: nothing promises the Map keeps their order."""
        listed = [instance.instance_id for instance in self.instances]
        answered = [result.instance_id for result in self.results]
        if sorted(listed) != sorted(answered):
            raise ValueError(f"{len(answered)} results do not answer the {len(listed)} instances of the page")
        return self


class Window(_Strict):
    begin_time: _Text
    end_time: _Text


class FailedInstance(_Strict):
    instance_id: str
    name: str | None
    error: str


class Summary(_Strict):
    project_id: str
    window: Window
    instances_watched: Count
    instances_failed: Count
    counts: Counts
    failed_restores_queued: Count
    failed_instances: Annotated[list[FailedInstance], Field(max_length=MAX_FAILED_LISTED)]
    failed_instances_omitted: Count
    instances_invalid: Count = Field(description="Instances DCS listed that failed validation, so were not watched.")
    instances_repeated: Count = Field(
        description="Listings of an instance already listed on the same page or the page before: not watched again."
    )
    truncated: bool = Field(description="The fleet had more instances than MAX_INSTANCES; the rest were not watched.")
    fleet_changed: bool = Field(
        description="The fleet changed while it was swept: an instance may have been skipped, or listed again "
        "(instances_repeated)."
    )
    cause: Annotated[str, Field(max_length=MAX_CAUSE_CHARS)]


class SummaryInput(_Strict):
    """What Summarise is given: the summary so far (``None`` on the first page) and the page."""

    summary: Summary | None
    page: PageWithResults


class SummaryAnswer(_Strict):
    """What Summarise answers: the summary with the page added, and the page's next event."""

    summary: Summary
    next: SweepEvent | None
