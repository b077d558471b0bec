"""The sweep's summary step: pages added one at a time, bounded whatever the fleet's size."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.sweep import MAX_CAUSE_CHARS, MAX_FAILED_LISTED, MAX_NAME_BYTES, Counts
from dcs_restores import RestoreStatus
from devkit.invoke import LocalContext
from sweep_summary.app import lambda_handler
from sweep_summary.summary import InvalidSummaryInputError, summarise

SWEEP = {
    "project_id": "proj",
    "begin_time": "2024-03-01T06:00:00Z",
    "end_time": "2024-03-01T12:00:00Z",
    "records": "none",
    "filters": {"name": None, "name_equal": False, "status": None, "tags": {}},
}
NEXT = {"project_id": "proj", "begin_time": "2024-03-01T06:00:00Z", "end_time": "2024-03-01T12:00:00Z", "offset": 3}


def instance(index: int, name: str | None = None) -> dict[str, Any]:
    return {"instance_id": f"i-{index}", "name": name or f"cache-{index}", "engine": "Redis", "status": "RUNNING"}


def watched(waiting: int = 0, restoring: int = 0, succeed: int = 0, failed: int = 0, queued: int = 0) -> dict[str, Any]:
    counts = {"waiting": waiting, "restoring": restoring, "succeed": succeed, "failed": failed}
    return {"counts": counts, "queued": queued}


def page(instances: list[dict[str, Any]], results: list[dict[str, Any]], next_page: Any = None) -> dict[str, Any]:
    """The page as the sweep's state holds it; a watched result is given its instance's ID, as the ASL selects it."""
    answered = [
        {"instance_id": listed["instance_id"], **result} if "counts" in result else result
        for listed, result in zip(instances, results, strict=False)
    ]
    return {
        "sweep": SWEEP,
        "instances": instances,
        "offset": 0,
        "count": len(instances),
        "total": len(instances),
        "invalid": 0,
        "repeated": 0,
        "truncated": False,
        "fleet_changed": False,
        "next": next_page,
        "results": answered + results[len(instances) :],
    }


def test_a_first_page_becomes_the_summary_and_its_next_is_passed_on() -> None:
    # Given a page of three instances, the second of which could not be watched
    first = page(
        [instance(0), instance(1), instance(2)],
        [watched(succeed=5, failed=2, queued=2), {"error": "DcsAuthError", "instance_id": "i-1"}, watched(waiting=1)],
        NEXT,
    )

    # When it is summarised with no summary so far
    answer = summarise({"summary": None, "page": first})

    # Then the summary counts it all, names the failed instance and its error, and the next page is the page's
    assert answer == {
        "summary": {
            "project_id": "proj",
            "window": {"begin_time": "2024-03-01T06:00:00Z", "end_time": "2024-03-01T12:00:00Z"},
            "instances_watched": 2,
            "instances_failed": 1,
            "counts": {"waiting": 1, "restoring": 0, "succeed": 5, "failed": 2},
            "failed_restores_queued": 2,
            "failed_instances": [{"instance_id": "i-1", "name": "cache-1", "error": "DcsAuthError"}],
            "failed_instances_omitted": 0,
            "instances_invalid": 0,
            "instances_repeated": 0,
            "truncated": False,
            "fleet_changed": False,
            "cause": "1 of 3 instances failed: i-1 (cache-1): DcsAuthError",
        },
        "next": NEXT,
    }


def test_a_later_page_adds_to_the_summary_so_far() -> None:
    # Given the summary of a first page
    first = summarise({"summary": None, "page": page([instance(0)], [watched(succeed=1, queued=0)], NEXT)})

    # When the second (and last) page is added
    second = page(
        [instance(1), instance(2)],
        [watched(restoring=2, failed=1, queued=1), {"error": "States.Timeout", "instance_id": "i-2"}],
    )
    answer = summarise({"summary": first["summary"], "page": second})

    # Then the totals are the sum of both, and there is no next page
    summary = answer["summary"]
    assert answer["next"] is None
    assert (summary["instances_watched"], summary["instances_failed"]) == (2, 1)
    assert summary["counts"] == {"waiting": 0, "restoring": 2, "succeed": 1, "failed": 1}
    assert summary["failed_restores_queued"] == 1
    assert summary["failed_instances"] == [{"instance_id": "i-2", "name": "cache-2", "error": "States.Timeout"}]
    assert summary["cause"] == "1 of 3 instances failed: i-2 (cache-2): States.Timeout"


def test_with_no_failure_the_cause_is_empty() -> None:
    answer = summarise({"summary": None, "page": page([instance(0)], [watched(succeed=3)])})
    assert answer["summary"]["instances_failed"] == 0
    assert answer["summary"]["failed_instances"] == []
    assert answer["summary"]["cause"] == ""


def test_an_empty_page_is_a_summary_of_nothing() -> None:
    answer = summarise({"summary": None, "page": page([], [])})
    assert answer["summary"]["instances_watched"] == 0
    assert answer["summary"]["counts"] == {"waiting": 0, "restoring": 0, "succeed": 0, "failed": 0}


def test_failed_instances_past_the_first_hundred_are_counted_not_listed() -> None:
    # Given three pages of 60 instances each, every one failed, with long names
    summary: dict[str, Any] | None = None
    for number in range(3):
        indexes = range(number * 60, number * 60 + 60)
        failures = [{"error": "DcsUnavailableError", "instance_id": f"i-{index}"} for index in indexes]
        answer = summarise(
            {"summary": summary, "page": page([instance(index, "n" * 64) for index in indexes], failures)}
        )
        summary = answer["summary"]

    # Then the first 100 are listed, in order, the other 80 counted; the cause is one bounded line
    assert summary is not None
    assert summary["instances_failed"] == 180
    assert [item["instance_id"] for item in summary["failed_instances"]] == [f"i-{n}" for n in range(MAX_FAILED_LISTED)]
    assert summary["failed_instances_omitted"] == 80
    assert len(summary["cause"]) == MAX_CAUSE_CHARS
    assert summary["cause"].startswith("180 of 180 instances failed: i-0 (")
    assert summary["cause"].endswith("…")


def test_the_cause_names_the_instances_it_does_not_list() -> None:
    failures = [{"error": "E", "instance_id": f"i-{index}"} for index in range(MAX_FAILED_LISTED + 2)]
    instances = [{"instance_id": f"i-{index}", "name": None} for index in range(MAX_FAILED_LISTED + 2)]
    answer = summarise({"summary": None, "page": page(instances, failures)})
    assert answer["summary"]["cause"].endswith("i-99: E; and 2 more")


def test_the_cause_stays_one_line_and_a_name_heavier_than_the_discovery_cuts_is_refused() -> None:
    failure = {"error": "DcsAuthError", "instance_id": "i-0"}
    answer = summarise({"summary": None, "page": page([instance(0, "line\none")], [failure])})
    assert "\n" not in answer["summary"]["cause"]
    # A name is weighed as escaped JSON: 16 four-byte characters weigh 12 bytes each, the limit exactly
    wide = "\U0001f5c4" * (MAX_NAME_BYTES // 12)
    for name in (wide, wide[:-1] + "x" * 11, '"' * (MAX_NAME_BYTES // 2)):
        assert summarise({"summary": None, "page": page([instance(0, name)], [failure])})["summary"]["failed_instances"]
    for name in (wide + "x", "x" * (MAX_NAME_BYTES + 1), '"' * (MAX_NAME_BYTES // 2) + "x"):
        with pytest.raises(
            InvalidSummaryInputError
        ) as refused:  # the discovery cuts names: a heavier one is not its page
            summarise({"summary": None, "page": page([instance(0, name)], [failure])})
        assert refused.value.field == "page.instances.0.name"


def test_results_are_matched_to_instances_by_id_whatever_their_order() -> None:
    results = [{"error": "DcsAuthError", "instance_id": "i-1"}, {"instance_id": "i-0", **watched(succeed=2)}]
    summary = summarise({"summary": None, "page": page([instance(0), instance(1)], results)})["summary"]
    assert summary["failed_instances"] == [{"instance_id": "i-1", "name": "cache-1", "error": "DcsAuthError"}]
    assert summary["counts"]["succeed"] == 2


def test_counts_are_the_statuses_a_watch_counts() -> None:
    assert set(Counts.model_fields) == {status.value for status in RestoreStatus}


def _mismatched_result(event: dict[str, Any]) -> None:
    event["page"]["results"][0] = {"error": "DcsAuthError", "instance_id": "i-9"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda event: event.pop("page"), "page"),
        (lambda event: event["page"]["results"].pop(), "page"),
        (_mismatched_result, "page"),
        (lambda event: event["page"]["results"][0]["counts"].update(failed=-1), "page.results.0"),
        (lambda event: event["page"]["results"][0]["counts"].update(failed="3"), "page.results.0"),
        (lambda event: event.update(summary={"project_id": "proj"}), "summary.window"),
        (lambda event: event["page"].pop("sweep"), "page.sweep"),
        (lambda event: event.update(extra=1), "extra"),
    ],
    ids=[
        "no-page",
        "a-result-short",
        "result-of-another-instance",
        "negative",
        "text",
        "partial-summary",
        "no-sweep",
        "extra",
    ],
)
def test_bad_input_is_a_named_error_naming_the_field(change: Any, field: str) -> None:
    event: dict[str, Any] = {"summary": None, "page": page([instance(0)], [watched(succeed=1)])}
    event = copy.deepcopy(event)
    change(event)
    with pytest.raises(InvalidSummaryInputError) as raised:
        summarise(event)
    assert raised.value.field.startswith(field)


def test_the_handler_answers_the_summary() -> None:
    event = {"summary": None, "page": page([instance(0)], [watched(succeed=1)], NEXT)}
    assert lambda_handler(event, LocalContext()) == summarise(event)


def test_instances_not_watched_are_counted_and_a_capped_or_changed_fleet_is_flagged() -> None:
    # Given two pages: the first with two invalid instances listed, the last one stopped at MAX_INSTANCES
    first = summarise({"summary": None, "page": {**page([instance(0)], [watched()], NEXT), "invalid": 2}})
    last = {**page([instance(1)], [watched()]), "invalid": 1, "truncated": True, "fleet_changed": True}

    # When both are added
    summary = summarise({"summary": first["summary"], "page": last})["summary"]

    # Then the summary says how many were not watched, and that the fleet was cut
    assert (first["summary"]["instances_invalid"], first["summary"]["truncated"]) == (2, False)
    assert (summary["instances_invalid"], summary["truncated"], summary["fleet_changed"]) == (3, True, True)


def test_repeats_are_summed_over_the_pages_and_the_fleet_is_said_to_have_changed() -> None:
    # Given a page with none repeated, then two pages whose instances had all been listed before
    first = {**page([instance(0)], [watched()], NEXT), "repeated": 0}
    summary = summarise({"summary": None, "page": first})["summary"]
    for _ in range(2):
        repeats = {**page([], [], NEXT), "repeated": 200, "fleet_changed": True}
        summary = summarise({"summary": summary, "page": repeats})["summary"]

    # Then one instance was watched, 400 listings of it counted as repeats, and the fleet flagged
    assert (summary["instances_watched"], summary["instances_repeated"], summary["fleet_changed"]) == (1, 400, True)


def test_a_page_that_stopped_at_max_instances_keeps_the_summary_truncated_whatever_pages_follow() -> None:
    # Given a page that said truncated and changed, then one that said neither
    first = {**page([instance(0)], [watched()], NEXT), "truncated": True, "fleet_changed": True}
    summary = summarise({"summary": None, "page": first})["summary"]
    summary = summarise({"summary": summary, "page": page([instance(1)], [watched()])})["summary"]
    # Then the summary still says both: a later page never clears what an earlier one found
    assert (summary["truncated"], summary["fleet_changed"]) == (True, True)
