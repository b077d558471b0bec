"""The sweep's contract between its steps (``common.sweep``), held by the real discovery and the real summary.

The discovery reads a fleet at the emulator and answers a page; the summary is given that page, as the
state machine selects it, with a result per instance. Each step's JSON is exactly what the models declare.
"""

from __future__ import annotations

from typing import Any

from common.observability import metrics
from common.sweep import DiscoveredPage, PageWithResults, SummaryAnswer, SweepEvent
from dcs_restores import Deadline
from devkit.emulator import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from devkit.seed import generate_fleet
from discover_instances.discovery import DiscoverySettings, InstanceDiscovery
from discover_instances.scope import scope_of
from sweep_summary.summary import summarise

FLEET = generate_fleet(7, seed=5)
EVENT = {"scheduled_time": "2024-03-01T12:00:00Z", "page_size": 4, "correlation_id": "sweep-1", "tags": {}}


def pages() -> list[dict[str, Any]]:
    """Both pages of the fleet, as the discovery answers them."""
    with Emulator(instances=FLEET) as url:
        settings = DiscoverySettings(
            dcs_endpoint=url, dcs_project_id=DEFAULT_PROJECT_ID, dcs_ak=DEFAULT_AK, dcs_sk=DEFAULT_SK
        )
        discovery = InstanceDiscovery(settings, metrics)
        first = discovery.page(scope_of(EVENT, settings), Deadline.after(30))
        second = discovery.page(scope_of(first["next"], settings), Deadline.after(30))
        discovery.disconnect()
    return [first, second]


def test_each_page_the_discovery_answers_is_a_discovered_page_to_the_letter() -> None:
    first, second = pages()
    for page in (first, second):
        assert DiscoveredPage.model_validate(page).to_json() == page  # nothing the model lacks, nothing dropped
    assert SweepEvent.model_validate(first["next"]).to_json() == first["next"]
    assert (first["count"], second["count"], second["next"]) == (4, 3, None)


def test_the_summary_takes_each_page_as_the_state_machine_hands_it_on_and_answers_its_contract() -> None:
    summary = None
    for page in pages():
        results = [
            {"instance_id": item["instance_id"], "counts": {"failed": 1}, "queued": 1} for item in page["instances"]
        ]
        given = {"summary": summary, "page": {**page, "results": results}}
        PageWithResults.model_validate(given["page"])
        answer = summarise(given)
        assert SummaryAnswer.model_validate(answer).model_dump(mode="json", exclude_unset=True) == answer
        assert answer["next"] == page["next"]  # passed on as the discovery wrote it
        summary = answer["summary"]
    assert summary is not None
    assert (summary["instances_watched"], summary["failed_restores_queued"]) == (7, 7)
