"""Every state of the workflows stays under Step Functions' 256 KB, whatever DCS lists or records.

A sweep's state holds one page at a time: the settings, the summary so far and the page (the
discovery's answer and one result per instance). Its largest moment is entering Summarise. This
builds that state at its largest, with the code that makes each part (the discovery's scope, the
summary function) and the page size the shipped ASL sets, and measures it in the larger of the
two encodings it may be measured in: JSON with ASCII escapes (what moto's interpreter measures;
a four-byte character is 12 bytes there), never smaller than the UTF-8 the python3.13 runtime
sends (4 bytes).

Field weights at their maximum: IDs of 64 characters (what the layer accepts), instance names of
192 bytes as escaped JSON (four-byte characters; the discovery cuts a heavier one), engine and
status of 32 bytes (control characters and quotes, which weigh more as escapes), the sweep's
filters near the limits InstanceQuery enforces (a name filter of 64 four-byte characters, 20 tags
whose filter fills most of the 4,096 bytes a URL may give it), every instance failed with the
longest error name a result can carry, a correlation ID of 256 four-byte characters, and a
summary with 100 failed instances listed and a cause of 1,000 four-byte characters (heavier than
any it can hold).

A wait for a restore holds the watch's answer, bounded by its ``max_response_bytes`` (65,536)
whatever the restore's remarks weigh: the workflow ends as the restore did.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.observability import metrics
from common.sweep import MAX_CAUSE_CHARS, MAX_FAILED_LISTED
from dcs_restores import Deadline
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_SK, Emulator
from devkit.seed import generate_records
from devkit.workflows import FLEET_SWEEP, LocalWorkflows, definition_path
from discover_instances.discovery import DiscoverySettings, InstanceDiscovery
from discover_instances.scope import scope_of
from restore_watch.errors import NAMED_ERRORS
from sweep_summary.summary import summarise
from tests.support import AwsResources

from .conftest import run

STATE_LIMIT = 256 * 1024  # bytes
WIDE = "\U0001f5c4"  # one character, four bytes in UTF-8: the widest there is
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


TAGS = {f"{index:02d}{WIDE * 3}": WIDE * 12 for index in range(20)}  # about as long as a URL's filter may be
# The widest filters (no status filter: the instances' statuses are wider than a filter may be)
WIDEST_FILTERS = {"name": WIDE * 64, "tags": TAGS}


def widest_fleet(count: int) -> list[dict[str, Any]]:
    """Instances as heavy as the discovery lets them travel, each matching the widest filters."""
    widest = {
        "name": "x" * 6 + WIDE * 80,  # cut to 192 bytes exactly: 6 + 15 x 12 + the ellipsis' 6
        # Control characters (six bytes each as escapes: replaced), then four-byte ones: cut to 32 = 14 + 12 + 6
        "engine": "\x01" * 14 + WIDE * 40,
        "status": '"' * 7 + WIDE * 40,  # a quote weighs two bytes escaped
        "tags": [{"key": key, "value": value} for key, value in TAGS.items()],
    }
    return [{**widest, "instance_id": f"{index:04d}{LONGEST_ID[4:]}"} for index in range(count)]


def largest_page(page_size: int) -> dict[str, Any]:
    """The page as the state holds it entering Summarise: Discover's answer, from the real discovery reading
    a fleet of the widest instances at the emulator, selected as the ASL selects it, plus the results."""
    project = "p" * 64
    with Emulator(instances=widest_fleet(page_size + 1), project_id=project) as url:
        settings = DiscoverySettings(dcs_endpoint=url, dcs_project_id=project, dcs_ak=DEFAULT_AK, dcs_sk=DEFAULT_SK)
        event = {
            **WIDEST_FILTERS,
            "scheduled_time": "2024-03-01T12:00:00Z",
            "records": "failed",
            "page_size": page_size,
            "correlation_id": WIDE * 256,  # carried in every next event: its longest, four-byte characters
        }
        discovery = InstanceDiscovery(settings, metrics)
        first = discovery.page(scope_of(event, settings), Deadline.after(30))
        # The first page again, as a later page's event (the window fixed, the total to expect), with none repeated
        again = {**first["next"], "offset": 0, "previous_page_ids": []}
        answer = discovery.page(scope_of(again, settings), Deadline.after(30))
        discovery.disconnect()
    assert answer["count"] == len(answer["next"]["previous_page_ids"]) == page_size  # its IDs ride in its next
    selector = definition()["States"]["Discover"]["ResultSelector"]
    page = {key.removesuffix(".$"): answer[path.removeprefix("$.Payload.")] for key, path in selector.items()}
    failure = {"error": max(error_names(), key=len), "instance_id": LONGEST_ID}
    success = {
        "instance_id": LONGEST_ID,
        "counts": dict.fromkeys(("waiting", "restoring", "succeed", "failed"), 100_000),
        "queued": 100_000,
    }
    larger = max(failure, success, key=lambda result: len(json.dumps(result)))
    return {**page, "results": [larger] * page_size}


def largest_summary(page: dict[str, Any]) -> dict[str, Any]:
    """A summary after enough failed instances to list the most it lists and cut its cause."""
    error = max(error_names(), key=len)
    failures = [{"error": error, "instance_id": instance["instance_id"]} for instance in page["instances"]]
    failed = {**page, "results": failures}
    summary: dict[str, Any] | None = None
    while summary is None or summary["failed_instances_omitted"] == 0:
        summary = summarise({"summary": summary, "page": failed})["summary"]
    return {**summary, "cause": WIDE * MAX_CAUSE_CHARS}


def size(value: Any) -> int:
    """Bytes as escaped JSON: what moto's interpreter measures, and never less than the UTF-8 AWS may measure."""
    return len(json.dumps(value))


def utf8_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def test_the_largest_state_of_a_sweep_is_far_below_256_kb() -> None:
    # Given the page size the sweep sets and the largest concurrency the template allows
    settings = definition()["States"]["Start"]["Parameters"]["settings"]
    page_size = settings["paging"]["page_size"]
    page = largest_page(page_size)
    summary = largest_summary(page)
    assert len(summary["failed_instances"]) == MAX_FAILED_LISTED
    weights = {key: {size(instance[key]) - 2 for instance in page["instances"]} for key in ("name", "engine", "status")}
    assert weights == {"name": {192}, "engine": {32}, "status": {32}}  # as heavy as the discovery lets them be

    # When the state entering Summarise is at its largest
    state = {
        "settings": {"max_concurrency": 1000, "paging": settings["paging"]},
        "progress": {"summary": summary, "page": page},
    }

    # Then it is under 256 KB with a fifth to spare in the larger encoding (measured: see docs/workflows.md, At scale)
    assert utf8_size(state) <= size(state) < 0.8 * STATE_LIMIT, (size(state), utf8_size(state))
    # And every other state of a page is smaller: Discover's answer before the results, the summary alone
    assert size({**state, "progress": {"summary": summary, "page": {"next": page["next"]}}}) < size(state)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """The widest fleet, one instance more than a page, with no restores (each watch reads an empty window)."""
    server = Emulator(instances=widest_fleet(201))
    server.start()
    yield server
    server.stop()


@pytest.mark.long
def test_a_sweep_of_the_widest_fleet_fits_an_interpreter_that_measures_escaped_json(
    workflows: LocalWorkflows, emulator: Emulator
) -> None:
    # When the widest fleet is swept with the widest filters, on moto's interpreter (states measured escaped)
    done = run(workflows.fleet_sweep, {**WIDEST_FILTERS, "scheduled_time": "2024-03-01T12:00:00Z"})

    # Then no state passed 256 KB: both pages were discovered and every instance watched
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    assert done.output["instances_watched"] == 201


def test_the_local_lambda_sends_an_answer_as_the_python313_runtime_does(
    workflows: LocalWorkflows, emulator: Emulator
) -> None:
    import boto3

    # When the discovery is invoked through moto's Lambda, as a state machine invokes it
    answer = boto3.client("lambda").invoke(FunctionName="dcs-restore-watch-discover", Payload=b'{"page_size": 1}')
    sent: bytes = answer["Payload"].read()

    # Then its answer is JSON in UTF-8 with non-ASCII text unescaped, as awslambdaric sends it for python3.13
    assert sent == json.dumps(json.loads(sent), ensure_ascii=False).encode()
    assert WIDE.encode() in sent


@pytest.mark.parametrize(
    ("field", "text"),
    [("restore_remark", "r" * 1_100_000), ("error_code", WIDE * 75_000)],
    ids=["a remark of 1.1 MB", "an error code of 300 kB"],
)
def test_wait_for_restore_ends_as_restore_failed_whatever_the_size_of_the_restore(
    workflows: LocalWorkflows, emulator: Emulator, aws: AwsResources, field: str, text: str
) -> None:
    # Given a failed restore, an hour old, one of whose fields alone is far larger than a state may hold
    [record] = generate_records(1, start=datetime.now(UTC) - timedelta(hours=1), failed_every=1)
    emulator.add_records([{**record, field: text}])

    # When the workflow waits for it
    done = run(workflows.wait_for_restore, {"instance_id": DEFAULT_INSTANCE_ID, "restore_id": record["restore_id"]})

    # Then it fails as a failed restore does (not with States.DataLimitExceeded), naming the restore and its code
    assert (done.status, done.error) == ("FAILED", "RestoreFailed")
    cut_code = text[:100] if field == "error_code" else record["error_code"]
    assert done.cause is not None
    assert done.cause.startswith(f"restore {record['restore_id']} of instance {DEFAULT_INSTANCE_ID} failed: DCS error ")
    assert cut_code in done.cause
