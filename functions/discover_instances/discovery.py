"""The use case: one page of a project's instances, and the event for the next page.

A sweep walks the fleet page by page, so each state of its workflow holds one page whatever the
fleet's size; the Distributed Map fans each page's instances out to the watch function.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from typing import Annotated, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field

from common import observability
from common.connection import DcsConnection
from common.settings import DcsSettings
from common.sweep import MAX_LABEL_BYTES, MAX_NAME_BYTES, DiscoveredPage, InstanceToWatch, json_weight
from common.timing import Timing
from dcs_restores import DcsInstance, Deadline

from .scope import Scope

logger = logging.getLogger(__name__)

RESPONSE_RESERVE = 1.0  # seconds kept back from DCS reads to answer
ELLIPSIS = "…"  # ends a cut text (texts are cut by their weight: see common.sweep)


class DiscoverySettings(DcsSettings):
    max_instances: Annotated[int, Field(ge=1, le=100_000)] = 10_000  # a sweep stops (truncated) past this many


class InstanceDiscovery:
    """What a container builds once: settings, timing and (on first use) the DCS client."""

    def __init__(self, settings: DiscoverySettings, metrics: Metrics, timing: Timing | None = None) -> None:
        self.settings = settings
        self._metrics = metrics
        self.dcs = DcsConnection(settings, timing or Timing())

    @classmethod
    def from_env(cls, environ: Mapping[str, str], metrics: Metrics) -> InstanceDiscovery:
        return cls(DiscoverySettings.from_env(environ), metrics)

    def disconnect(self) -> None:
        """Close the DCS client: the next one reads the secret, and connects, anew."""
        self.dcs.close()

    def deadline(self, remaining_seconds: float) -> Deadline:
        return Deadline.after(remaining_seconds - RESPONSE_RESERVE)

    def page(self, scope: Scope, deadline: Deadline) -> dict[str, Any]:
        """The instances of ``scope``'s page as the sweep's workflow reads them, and its next page."""
        offset, size = scope.query.offset or 0, scope.query.limit or 0
        query = scope.query.model_copy(update={"limit": min(size, self.settings.max_instances - offset)})
        with self.dcs.calls(self._metrics) as client:
            listing = client.list_instances(query, deadline)
        for invalid in listing.invalid:  # reported, never silently dropped
            logger.warning("DCS listed an invalid instance", extra=invalid.model_dump())
        # One instance, one watch: the layer keeps the first listing of an instance within the page, and one
        # the page before listed (pushed along by an instance added before it) is not given again.
        previous_page = set(scope.previous_page_ids)
        instances = [instance for instance in listing.instances if instance.instance_id not in previous_page]
        repeated = listing.repeated + len(listing.instances) - len(instances)
        next_offset = offset + size
        more = bool(listing.instances or listing.invalid_total) and next_offset < listing.total
        at_cap = next_offset >= self.settings.max_instances
        truncated = at_cap and listing.total > self.settings.max_instances
        # Offsets of a listing that changed between pages point elsewhere: an instance may be skipped, or
        # listed again (dropped above). The summary says so; the next sweep's window overlaps this one's.
        moved = scope.listed_total is not None and listing.total != scope.listed_total
        fleet_changed = moved or repeated > 0
        not_watched = listing.invalid_total + (listing.total - self.settings.max_instances if truncated else 0)
        self._metrics.add_metric(name="InstancesDiscovered", unit=MetricUnit.Count, value=len(instances))
        self._metrics.add_metric(name="InstancesNotWatched", unit=MetricUnit.Count, value=not_watched)
        counted = {
            "offset": offset,
            "count": len(instances),
            "total": listing.total,
            "invalid": listing.invalid_total,
            "repeated": repeated,
            "truncated": truncated,
            "fleet_changed": fleet_changed,
        }
        logger.info("instances discovered", extra=counted)
        listed_total = listing.total if scope.listed_total is None else scope.listed_total
        page_ids = [instance.instance_id for instance in listing.instances]
        return DiscoveredPage(
            sweep=scope.describe(),
            instances=[_to_watch(instance) for instance in instances],
            **counted,
            next=scope.next_event(next_offset, listed_total, page_ids) if more and not at_cap else None,
        ).to_json()


def _to_watch(instance: DcsInstance) -> InstanceToWatch:
    """What a sweep carries of an instance, each text cut to a weight so a page's size stays bounded."""
    return InstanceToWatch(
        instance_id=instance.instance_id,
        name=_cut(instance.name, MAX_NAME_BYTES),
        engine=_cut(instance.engine, MAX_LABEL_BYTES),
        status=_cut(instance.status, MAX_LABEL_BYTES),
    )


def _cut(text: str | None, max_bytes: int) -> str | None:
    """``text`` within ``max_bytes`` as escaped JSON, its control characters replaced (each would be an escape)."""
    if text is None:
        return None
    # Every character weighs a byte at least: past max_bytes of them, the rest is cut anyway.
    printable = "".join(char if char.isprintable() else "?" for char in text[: max_bytes + 1])
    if json_weight(printable) <= max_bytes:
        return printable
    room, kept = max_bytes - json_weight(ELLIPSIS), 0
    for char in printable:
        room -= json_weight(char)
        if room < 0:
            break
        kept += 1
    return printable[:kept] + ELLIPSIS


@functools.cache
def instance_discovery() -> InstanceDiscovery:
    """This container's use case, built on first use from the environment (not cached if that fails)."""
    return InstanceDiscovery.from_env(os.environ, observability.metrics)
