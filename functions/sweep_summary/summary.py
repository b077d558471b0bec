"""Adding one page of a sweep to its summary: pure, no AWS and no DCS.

The page is the discovery's answer with ``results``, one per instance in the same order: a
watch's trimmed payload (``counts``, ``queued``) or the error that stopped it (``error``,
``instance_id``). Whatever the fleet's size the summary stays small: it names the first
``MAX_FAILED_LISTED`` failed instances and counts the rest, and its cause is one line. What it is
given and what it answers are the sweep's contract (``common.sweep``), which loads no Powertools.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from common.sweep import (
    MAX_CAUSE_CHARS,
    MAX_FAILED_LISTED,
    Counts,
    Failed,
    FailedInstance,
    PageWithResults,
    Summary,
    SummaryInput,
    Watched,
    Window,
)
from dcs_restores import first_error


class InvalidSummaryInputError(ValueError):
    """The event is not a summary so far and a page of results; ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def summarise(event: Any) -> dict[str, Any]:
    """``{"summary": <the summary with the page added>, "next": <the page's next>}``."""
    try:
        given = SummaryInput.model_validate(event)
    except ValidationError as error:
        raise InvalidSummaryInputError(*first_error(error.errors(include_url=False), "event")) from None
    summary = add_page(given.summary, given.page)
    return {"summary": summary.model_dump(mode="json"), "next": event["page"]["next"]}  # validated, passed on as given


def add_page(summary: Summary | None, page: PageWithResults) -> Summary:
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
