"""statemachines/fleet_sweep.asl.json, as shipped, on moto's interpreter against the emulator's fleet.

Discovery, every watch and the summary are the real handlers; DCS is the loopback emulator with a
seeded fleet; SQS and DynamoDB are moto's. The expected summaries are computed from the seeded
records, not written down.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest

from dcs_restores import Credentials, DcsRestoresClient, InstanceQuery
from devkit.emulator import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator, Scripted
from devkit.seed import generate_fleet, generate_fleet_records
from devkit.workflows import LocalWorkflows, deploy, handlers_serve_lambda, sweep_summary
from tests.support import AwsResources, fresh_container

from .conftest import EXECUTION_DEADLINE, InterpreterTime, run

FLEET = generate_fleet(60, seed=11)
# Twelve restores an instance, one every 95 minutes from midnight; every third one failed.
RECORDS = generate_fleet_records(
    FLEET, 12, failed_every=3, start=datetime(2024, 1, 1, tzinfo=UTC), step=timedelta(minutes=95)
)
# Two overlapping sweeps, as two runs of a schedule with a 12-hour lookback, six hours apart.
FIRST = {"scheduled_time": "2024-01-01T12:00:00Z", "lookback": "PT12H"}
SECOND = {"scheduled_time": "2024-01-01T18:00:00Z", "lookback": "PT12H"}
WINDOWS = {
    "first": (datetime(2024, 1, 1, 0, tzinfo=UTC), datetime(2024, 1, 1, 12, tzinfo=UTC)),
    "second": (datetime(2024, 1, 1, 6, tzinfo=UTC), datetime(2024, 1, 1, 18, tzinfo=UTC)),
}


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The seeded 60-instance fleet, or the one a test names (indirect parametrisation), restores per instance."""
    fleet, records = getattr(request, "param", (FLEET, RECORDS))
    server = Emulator(records, instances=fleet)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sweep_one_at_a_time(function_env: dict[str, str], interpreter_time: InterpreterTime) -> Iterator[LocalWorkflows]:
    """The state machines with a MaxConcurrency of 1: instances are watched in the order DCS lists them."""
    with handlers_serve_lambda():
        yield deploy(max_concurrency=1)
    fresh_container()


def served_order(emulator: Emulator) -> list[dict[str, Any]]:
    """The fleet as DCS lists it (one page of all of it), read through the client like the discovery does."""
    client = DcsRestoresClient(emulator.url, Credentials(DEFAULT_AK, DEFAULT_SK))
    try:
        listing = client.list_instances(InstanceQuery.of(project_id=DEFAULT_PROJECT_ID, offset=0, limit=1000))
    finally:
        client.close()
    by_id = {instance["instance_id"]: instance for instance in FLEET}
    return [by_id[instance.instance_id] for instance in listing.instances]


@dataclass(frozen=True)
class Seen:
    """What a watch of one instance over one window finds in the seeded records."""

    counts: Counter[str]
    failed: list[str]  # restore IDs


def seen(instance_id: str, window: str) -> Seen:
    begin, end = WINDOWS[window]
    inside = [
        record
        for record in RECORDS[instance_id]
        if begin <= datetime.fromisoformat(record["created_at"]).replace(microsecond=0) <= end
    ]
    return Seen(
        Counter(record["status"] for record in inside),
        [record["restore_id"] for record in inside if record["status"] == "failed"],
    )


def expected_summary(window: str, watched: list[str], failed: dict[str, str], queued: int) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    for instance_id in watched:
        counts += seen(instance_id, window).counts
    names = {instance["instance_id"]: instance["name"] for instance in FLEET}
    begin, end = WINDOWS[window]
    cause = "; ".join(f"{instance_id} ({names[instance_id]}): {error}" for instance_id, error in failed.items())
    return {
        "project_id": DEFAULT_PROJECT_ID,
        "window": {"begin_time": f"{begin:%Y-%m-%dT%H:%M:%S}Z", "end_time": f"{end:%Y-%m-%dT%H:%M:%S}Z"},
        "instances_watched": len(watched),
        "instances_failed": len(failed),
        "counts": {status: counts[status] for status in ("waiting", "restoring", "succeed", "failed")},
        "failed_restores_queued": queued,
        "failed_instances": [
            {"instance_id": instance_id, "name": names[instance_id], "error": error}
            for instance_id, error in failed.items()
        ],
        "failed_instances_omitted": 0,
        "instances_invalid": 0,
        "instances_repeated": 0,
        "truncated": False,
        "fleet_changed": False,
        "cause": f"{len(failed)} of {len(watched) + len(failed)} instances failed: {cause}" if failed else "",
    }


def queued_restore_ids(aws: AwsResources) -> list[str]:
    return sorted(json.loads(message["Body"])["restore_id"] for message in aws.messages())


@pytest.mark.long
def test_two_overlapping_sweeps_watch_every_instance_and_queue_each_failed_restore_once(
    sweep_one_at_a_time: LocalWorkflows, emulator: Emulator, aws: AwsResources, interpreter_time: InterpreterTime
) -> None:
    # Given a 60-instance fleet, listed in this order
    fleet = [instance["instance_id"] for instance in served_order(emulator)]
    first, second = fleet[0], fleet[1]
    # And DCS answering the discovery, then unavailable for the whole first watch (its client's four
    # attempts), then refusing the credentials for the second instance's watch
    emulator.script(Scripted(), *[Scripted(status=503)] * 4, Scripted(), Scripted(status=401))

    # When the first sweep runs
    done = run(sweep_one_at_a_time.fleet_sweep, FIRST)

    # Then the first instance was retried by the state machine (once, after at most its first backoff) and
    # watched; the second failed with DcsAuthError, caught; every other instance was still watched
    watched_first = [instance for instance in fleet if instance != second]
    queued_first = [restore for instance in watched_first for restore in seen(instance, "first").failed]
    summary = expected_summary("first", watched_first, {second: "DcsAuthError"}, len(queued_first))
    assert (done.status, done.error, done.cause) == ("FAILED", "InstancesFailed", summary["cause"])
    assert sweep_summary(done, within=EXECUTION_DEADLINE) == summary
    [backoff] = interpreter_time.retries
    assert 0 <= backoff <= 2
    reads = Counter(request.path.split("/")[4] for request in emulator.restore_requests())
    assert (reads[first], reads[second]) == (4 + 1, 1)  # four refused attempts, the retry; one refused read
    assert seen(first, "first").failed  # the retried instance had failed restores to forward, and did
    assert queued_restore_ids(aws) == sorted(queued_first)

    # When the second sweep runs, its window overlapping the first one's by six hours
    done = run(sweep_one_at_a_time.fleet_sweep, SECOND)

    # Then it succeeds with the summary of all 60 instances, and queues only the failed restores not queued yet
    already = set(queued_first)
    queued_second = [
        restore for instance in fleet for restore in seen(instance, "second").failed if restore not in already
    ]
    assert 0 < len(queued_second) < sum(len(seen(instance, "second").failed) for instance in fleet)  # some overlap
    assert done.status == "SUCCEEDED"
    assert done.output == expected_summary("second", fleet, {}, len(queued_second))
    # And across both sweeps every failed restore either window showed a watch is in the queue once
    assert queued_restore_ids(aws) == sorted(queued_first + queued_second)


BIG_FLEET = generate_fleet(210, seed=5)


@pytest.mark.long
@pytest.mark.parametrize(
    "emulator", [(BIG_FLEET, generate_fleet_records(BIG_FLEET, 1, failed_every=1))], indirect=True, ids=["210"]
)
def test_a_fleet_larger_than_a_page_is_swept_page_by_page_at_the_sweeps_own_page_size(
    workflows: LocalWorkflows, emulator: Emulator, aws: AwsResources
) -> None:
    # Given a fleet of 210 instances with one failed restore each
    # When a sweep asks for pages of 1000
    done = run(
        workflows.fleet_sweep,
        {"begin_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-02T00:00:00Z", "page_size": 1000},
    )

    # Then DCS was asked for two pages of 200, and every instance was watched and its failed restore queued
    pages = [dict(parse_qsl(request.query)) for request in emulator.instance_requests()]
    assert [(page["offset"], page["limit"]) for page in pages] == [("0", "200"), ("200", "200")]
    assert done.status == "SUCCEEDED"
    assert (done.output["instances_watched"], done.output["failed_restores_queued"]) == (210, 210)
    assert len(aws.messages()) == 210


def test_a_sweep_watches_only_the_instances_its_filters_select(workflows: LocalWorkflows, emulator: Emulator) -> None:
    # When a sweep asks for the RUNNING instances tagged env=prod
    done = run(workflows.fleet_sweep, {**FIRST, "status": "RUNNING", "tags": {"env": "prod"}})

    # Then it watched exactly those, each over the sweep's window
    selected = [
        instance
        for instance in FLEET
        if instance["status"] == "RUNNING" and {"key": "env", "value": "prod"} in instance["tags"]
    ]
    assert 0 < len(selected) < len(FLEET)
    assert done.status == "SUCCEEDED"
    assert done.output["instances_watched"] == len(selected)
    watched = {request.path.split("/")[4] for request in emulator.restore_requests()}
    assert watched == {instance["instance_id"] for instance in selected}


def test_a_discovery_dcs_refuses_fails_the_sweep_with_the_named_error(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime
) -> None:
    # Given DCS refusing the credentials
    emulator.script(Scripted(status=401))

    # When a sweep runs, it fails at discovery with DcsAuthError (not retried: the credentials are wrong)
    done = run(workflows.fleet_sweep, FIRST)
    assert (done.status, done.error) == ("FAILED", "DcsAuthError")
    assert interpreter_time.retries == []
    assert emulator.restore_requests() == []


def test_a_bad_sweep_input_fails_with_invalid_query_error_before_any_watch(
    workflows: LocalWorkflows, emulator: Emulator
) -> None:
    done = run(workflows.fleet_sweep, {**FIRST, "status": "running"})
    assert (done.status, done.error) == ("FAILED", "InvalidQueryError")
    assert emulator.restore_requests() == []


@pytest.mark.parametrize(
    "emulator", [(BIG_FLEET, generate_fleet_records(BIG_FLEET, 1, failed_every=0))], indirect=True, ids=["210"]
)
def test_a_fleet_past_max_instances_is_watched_up_to_it_and_the_summary_says_truncated(
    monkeypatch: pytest.MonkeyPatch, workflows: LocalWorkflows, emulator: Emulator
) -> None:
    # Given a fleet of 210 instances and a discovery that stops at 205 (pages of 200)
    monkeypatch.setenv("MAX_INSTANCES", "205")
    fresh_container()

    # When a sweep runs
    done = run(workflows.fleet_sweep, FIRST)

    # Then the second page asks DCS for only the 5 the cap leaves, and the summary says the fleet was cut
    pages = [dict(parse_qsl(request.query)) for request in emulator.instance_requests()]
    assert [(page["offset"], page["limit"]) for page in pages] == [("0", "200"), ("200", "5")]
    assert done.status == "SUCCEEDED"
    assert (done.output["instances_watched"], done.output["truncated"]) == (205, True)


@pytest.mark.parametrize(
    "emulator", [(BIG_FLEET, generate_fleet_records(BIG_FLEET, 1, failed_every=0))], indirect=True, ids=["210"]
)
def test_a_fleet_that_changes_between_pages_is_flagged_in_the_summary(
    workflows: LocalWorkflows, emulator: Emulator
) -> None:
    # Given a fleet whose listing grows by one instance once its first page was served
    emulator.faults.instance_num_delta = 1

    # When a sweep runs
    done = run(workflows.fleet_sweep, FIRST)

    # Then every instance listed was watched, and the summary says the fleet changed while it was swept
    assert done.status == "SUCCEEDED"
    assert (done.output["instances_watched"], done.output["fleet_changed"]) == (210, True)


def test_a_sweep_started_by_another_execution_accepts_the_key_step_functions_adds(
    workflows: LocalWorkflows, emulator: Emulator
) -> None:
    started_by = "arn:aws:states:eu-west-1:123456789012:execution:runbook:1"
    done = run(workflows.fleet_sweep, {**FIRST, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": started_by})
    assert done.status == "SUCCEEDED"
    assert done.output["instances_watched"] == len(FLEET)


# The same 200 instances listed on each of five pages (the same IDs, each listing a year later), one failed restore each
REPEATED_ROUNDS = [generate_fleet(200, seed=5, start=datetime(2020 + year, 1, 1, tzinfo=UTC)) for year in range(5)]


@pytest.mark.long
@pytest.mark.parametrize(
    "emulator",
    [
        (
            [instance for listed in REPEATED_ROUNDS for instance in listed],
            generate_fleet_records(REPEATED_ROUNDS[0], 1, failed_every=1),
        )
    ],
    indirect=True,
    ids=["200x5"],
)
def test_instances_repeated_across_pages_are_watched_and_counted_once(
    workflows: LocalWorkflows, emulator: Emulator, aws: AwsResources
) -> None:
    # When a sweep walks five pages that list the same 200 instances
    done = run(workflows.fleet_sweep, {"begin_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-02T00:00:00Z"})

    # Then each instance was watched once, the repeats counted, the fleet flagged, each failed restore queued once
    assert done.status == "SUCCEEDED"
    summary = done.output
    assert (summary["instances_watched"], summary["instances_repeated"], summary["fleet_changed"]) == (200, 800, True)
    assert (summary["failed_restores_queued"], len(aws.messages())) == (200, 200)
