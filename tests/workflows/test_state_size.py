"""The fleet sweep's largest state stays under Step Functions' 256 KB, whatever the fleet's size.

A sweep's state holds one page at a time: the settings, the summary so far and the page (the
discovery's answer and one result per instance). Its largest moment is entering Summarise. This
builds that state at its largest, with the code that makes each part (the discovery's scope, the
summary function) and the page size the shipped ASL sets, and measures it as Step Functions does:
JSON in UTF-8.

Field lengths at their maximum: IDs of 64 characters (what the layer accepts), instance names of
64 characters (DCS's limit) each a Chinese character (3 bytes in UTF-8; DCS names allow letters,
digits, hyphens, underscores and Chinese characters), engine and status of 32 characters (DCS's
are at most 12), the sweep's filters at the limits InstanceQuery enforces (20 tags of 128 + 255
characters, Chinese too), every instance failed with the longest error name a result can carry,
and a summary with 100 failed instances listed and a 1,000-character cause.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dcs_restores import DcsInstance
from devkit.workflows import FLEET_SWEEP, definition_path
from discover_instances.discovery import DiscoverySettings, _to_watch
from discover_instances.scope import scope_of
from restore_watch.errors import NAMED_ERRORS
from sweep_summary.summary import MAX_FAILED_LISTED, summarise

STATE_LIMIT = 256 * 1024  # bytes
WIDE = "名"  # one character, three bytes in UTF-8
LONGEST_ID = "i" * 64


def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(definition_path(FLEET_SWEEP).read_text())
    return loaded


def error_names() -> Iterator[str]:
    """Every error name an item's result can carry: ours, and those of Lambda and Step Functions."""
    yield from (error.__name__ for error in NAMED_ERRORS)
    for state in definition()["States"]["Watch instances"]["ItemProcessor"]["States"].values():
        for retry in state.get("Retry", []):
            yield from retry["ErrorEquals"]
    yield from ("States.Timeout", "States.TaskFailed", "States.Permissions", "Sandbox.Timedout", "Lambda.Unknown")


def largest_page(page_size: int) -> dict[str, Any]:
    """The page as the state holds it entering Summarise: Discover's selected answer plus the results."""
    project = "p" * 64
    settings = DiscoverySettings(
        dcs_endpoint="https://dcs.example.com",
        dcs_project_id=project,
        dcs_credentials_secret="secret",
    )
    tags = {f"{index:02d}{WIDE * 126}": WIDE * 255 for index in range(20)}
    scope = scope_of(
        {
            "name": WIDE * 64,
            "status": "S" * 32,
            "tags": tags,
            "scheduled_time": "2024-03-01T12:00:00Z",
            "records": "failed",
            "offset": 999_000,
            "page_size": page_size,
            "correlation_id": "c" * 256,
        },
        settings,
        now=lambda: datetime(2024, 3, 1, tzinfo=UTC),
    )
    instances = [
        _to_watch(DcsInstance(instance_id=LONGEST_ID, name=WIDE * 64, engine="E" * 32, status="S" * 32))
        for _ in range(page_size)
    ]
    answer = {
        "sweep": scope.describe(),
        "instances": instances,
        "offset": 999_000,
        "count": page_size,
        "total": 1_000_000,
        "invalid": 1_000_000,
        "truncated": False,
        "next": scope.next_event(999_000 + page_size),
    }
    selector = definition()["States"]["Discover"]["ResultSelector"]
    page = {key.removesuffix(".$"): answer[path.removeprefix("$.Payload.")] for key, path in selector.items()}
    failure = {"error": max(error_names(), key=len), "instance_id": LONGEST_ID}
    success = {"counts": dict.fromkeys(("waiting", "restoring", "succeed", "failed"), 100_000), "queued": 100_000}
    larger = max(failure, success, key=lambda result: len(json.dumps(result)))
    return {**page, "results": [larger] * page_size}


def largest_summary(page: dict[str, Any]) -> dict[str, Any]:
    """A summary after enough failed instances to list the most it lists and cut its cause."""
    failed = {**page, "results": [{"error": "DcsAuthError", "instance_id": LONGEST_ID}] * len(page["instances"])}
    summary: dict[str, Any] | None = None
    while summary is None or summary["failed_instances_omitted"] == 0:
        summary = summarise({"summary": summary, "page": failed})["summary"]
    return summary


def size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def test_the_largest_state_of_a_sweep_is_far_below_256_kb() -> None:
    # Given the page size the sweep sets and the largest concurrency the template allows
    settings = definition()["States"]["Start"]["Parameters"]["settings"]
    page_size = settings["paging"]["page_size"]
    page = largest_page(page_size)
    summary = largest_summary(page)
    assert len(summary["failed_instances"]) == MAX_FAILED_LISTED
    assert len(summary["cause"]) == 1000

    # When the state entering Summarise is at its largest
    state = {
        "settings": {"max_concurrency": 1000, "paging": settings["paging"]},
        "progress": {"summary": summary, "page": page},
    }

    # Then it is under 256 KB with a fifth to spare (measured: 183,185 bytes at 200 instances a page, 70 %)
    assert size(state) < 0.8 * STATE_LIMIT, size(state)
    # And every other state of a page is smaller: Discover's answer before the results, the summary alone
    assert size({**state, "progress": {"summary": summary, "page": {"next": page["next"]}}}) < size(state)
