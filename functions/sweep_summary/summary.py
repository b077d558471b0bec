"""Adding one page of a sweep to its summary: pure, no AWS and no DCS.

The page is the discovery's answer with ``results``, one per instance in the same order: a
watch's trimmed payload (``counts``, ``queued``) or the error that stopped it (``error``,
``instance_id``). Whatever the fleet's size the summary stays small: it names the first
``MAX_FAILED_LISTED`` failed instances and counts the rest, and its cause is one line.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from dcs_restores import first_error

MAX_FAILED_LISTED = 100
MAX_CAUSE_CHARS = 1000
MAX_NAME_BYTES = 192  # as escaped JSON: what the discovery cuts instance names to, so a page stays bounded

Count = Annotated[int, Field(ge=0, strict=True)]
_Text = Annotated[str, Field(min_length=1, max_length=1024)]


def _within_name_bytes(name: str) -> str:
    if len(json.dumps(name)) - len('""') > MAX_NAME_BYTES:
        raise ValueError(f"weighs more than {MAX_NAME_BYTES} bytes as escaped JSON; the discovery cuts names to that")
    return name


class InvalidSummaryInputError(ValueError):
    """The event is not a summary so far and a page of results; ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Counts(_Strict):
    """Records by status, as the watch counts them (``dcs_restores.RestoreStatus``)."""

    waiting: Count = 0
    restoring: Count = 0
    succeed: Count = 0
    failed: Count = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{status: getattr(self, status) + getattr(other, status) for status in Counts.model_fields})


class Watched(_Strict):
    """An instance watched: the counts of its window's records and the failed restores it queued."""

    instance_id: _Text
    counts: Counts
    queued: Count


class Failed(_Strict):
    """An instance that could not be watched, after any retries: the name of the error."""

    error: _Text
    instance_id: _Text


class Instance(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # engine, status: not the summary's concern

    instance_id: _Text
    name: Annotated[str, AfterValidator(_within_name_bytes)] | None = None  # the discovery cuts heavier ones


class Window(_Strict):
    begin_time: _Text
    end_time: _Text


class Sweep(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # records, filters

    project_id: _Text
    begin_time: _Text
    end_time: _Text


class Page(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # offset, count, total

    sweep: Sweep
    instances: list[Instance]
    results: list[Watched | Failed]
    invalid: Count  # instances DCS listed that failed validation: not watched, logged by the discovery
    repeated: Count  # instances listed again on this page, or already on the page before: not watched twice
    truncated: bool  # the discovery stopped at MAX_INSTANCES
    fleet_changed: bool  # the listing moved since the first page: an instance may have been skipped
    next: dict[str, Any] | None

    @model_validator(mode="after")
    def _one_result_per_instance(self) -> Self:
        """Results are matched to instances by ID: nothing promises the Map keeps their order."""
        listed = [instance.instance_id for instance in self.instances]
        answered = [result.instance_id for result in self.results]
        if sorted(listed) != sorted(answered):
            raise ValueError(f"{len(answered)} results do not answer the {len(listed)} instances of the page")
        return self


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
    summary: Summary | None
    page: Page


def summarise(event: Any) -> dict[str, Any]:
    """``{"summary": <the summary with the page added>, "next": <the page's next>}``."""
    try:
        given = SummaryInput.model_validate(event)
    except ValidationError as error:
        raise InvalidSummaryInputError(*first_error(error.errors(include_url=False), "event")) from None
    summary = add_page(given.summary, given.page)
    return {"summary": summary.model_dump(mode="json"), "next": given.page.next}


def add_page(summary: Summary | None, page: Page) -> Summary:
    watched = [result for result in page.results if isinstance(result, Watched)]
    names = {instance.instance_id: instance.name for instance in page.instances}
    failed = [
        FailedInstance(instance_id=result.instance_id, name=names[result.instance_id], error=result.error)
        for result in page.results
        if isinstance(result, Failed)
    ]
    if summary is None:
        window = Window(begin_time=page.sweep.begin_time, end_time=page.sweep.end_time)
        summary = Summary(
            project_id=page.sweep.project_id,
            window=window,
            instances_watched=0,
            instances_failed=0,
            counts=Counts(),
            failed_restores_queued=0,
            failed_instances=[],
            failed_instances_omitted=0,
            instances_invalid=0,
            instances_repeated=0,
            truncated=False,
            fleet_changed=False,
            cause="",
        )
    counts = summary.counts
    for result in watched:
        counts += result.counts
    listed = [*summary.failed_instances, *failed]
    watched_total = summary.instances_watched + len(watched)
    failed_total = summary.instances_failed + len(failed)
    return summary.model_copy(
        update={
            "instances_watched": watched_total,
            "instances_failed": failed_total,
            "counts": counts,
            "failed_restores_queued": summary.failed_restores_queued + sum(result.queued for result in watched),
            "failed_instances": listed[:MAX_FAILED_LISTED],
            "failed_instances_omitted": summary.failed_instances_omitted + max(0, len(listed) - MAX_FAILED_LISTED),
            "instances_invalid": summary.instances_invalid + page.invalid,
            "instances_repeated": summary.instances_repeated + page.repeated,
            "truncated": summary.truncated or page.truncated,
            "fleet_changed": summary.fleet_changed or page.fleet_changed,
            "cause": cause(watched_total + failed_total, failed_total, listed[:MAX_FAILED_LISTED]),
        }
    )


def cause(instances: int, failed: int, listed: list[FailedInstance]) -> str:
    """One line for the Fail state: how many failed, then each listed one and its error, cut to fit."""
    if not failed:
        return ""
    head = f"{failed} of {instances} instances failed: "
    parts = [
        f"{item.instance_id} ({item.name}): {item.error}" if item.name else f"{item.instance_id}: {item.error}"
        for item in listed
    ]
    line = head + "; ".join(parts)
    if failed > len(listed):
        line += f"; and {failed - len(listed)} more"
    line = " ".join(line.split())  # one line, whatever a name holds
    return line if len(line) <= MAX_CAUSE_CHARS else line[: MAX_CAUSE_CHARS - 1] + "…"
