"""``dcs-restore-watch sweep`` and ``wait-for-restore`` in subprocesses: the shipped ASL on moto's interpreter.

Each run is a process of its own with the embedded default (or a DCS emulator this test starts),
as a user runs it. The expected summaries are computed from the fleet the embedded default seeds
(``devkit.embedded``), not written down. The runs that start the state machines go at once, a few
at a time, in module fixtures: each takes a few seconds, most of it starting moto and the handlers.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import boto3
import pytest

from devkit.embedded import DEMO_RESTORE_ID, EmbeddedFleet, embedded_fleet
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from devkit.fleet import tags_of
from devkit.local import moto_server
from devkit.seed import generate_fleet, generate_fleet_records, generate_records

from ..support import CLI, ROOT, clean_environment

STATUSES = ("waiting", "restoring", "succeed", "failed")
SEEDED: EmbeddedFleet = embedded_fleet()  # the same instances and statuses as every embedded default's
SEEDED_RUNS = {
    "everything": ["sweep"],
    "filtered": ["sweep", "--status", "RUNNING", "--tag", "env=prod"],
    "demo-restore": ["wait-for-restore", DEFAULT_INSTANCE_ID, DEMO_RESTORE_ID, "--poll-seconds", "1"],
    "unknown-restore": ["wait-for-restore", DEFAULT_INSTANCE_ID, "not-a-restore", "--max-wait-seconds", "0"],
    # The first day DCS reads (years 1000 to 9999): swept, though nothing happened then
    "year-1000": ["sweep", "--begin", "10000101000000", "--end", "1000-01-02T00:00:00Z"],
    "started-in-year-1000": ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--started-at", "10000101000000"],
}


def run_cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else clean_environment(),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def run_all(runs: Mapping[str, list[str]], workers: int) -> dict[str, subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = pool.map(lambda args: run_cli(*args), runs.values())
        return dict(zip(runs, done, strict=True))


@pytest.fixture(scope="module")
def seeded_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """Each command of ``SEEDED_RUNS`` on a fresh embedded default."""
    return run_all(SEEDED_RUNS, workers=3)


def expected_summary(instances: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What a sweep of these seeded instances over the default lookback finds: every recent restore."""
    counts: Counter[str] = Counter()
    watched = 0
    for instance in instances:
        watched += 1
        counts.update(record["status"] for record in SEEDED.recent[instance["instance_id"]])
    return {
        "project_id": DEFAULT_PROJECT_ID,
        "instances_watched": watched,
        "instances_failed": 0,
        "counts": {status: counts[status] for status in STATUSES},
        "failed_restores_queued": counts["failed"],  # a fresh embedded queue and ledger: every one is new
        "failed_instances": [],
        "failed_instances_omitted": 0,
        "instances_invalid": 0,
        "instances_repeated": 0,
        "truncated": False,
        "fleet_changed": False,
        "cause": "",
    }


def summary_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(done.stdout)  # stdout is the summary and nothing else
    return summary


def without_window(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key != "window"}


@pytest.mark.long
def test_a_sweep_on_the_embedded_default_watches_the_whole_seeded_fleet(
    seeded_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    done = seeded_runs["everything"]
    assert done.returncode == 0, done.stderr
    summary = summary_of(done)
    assert without_window(summary) == expected_summary(SEEDED.instances)
    assert summary["instances_watched"] == SEEDED.size > 40
    # The window is the default lookback, six hours up to the sweep's start
    window = summary["window"]
    begin, end = (datetime.fromisoformat(window[edge]) for edge in ("begin_time", "end_time"))
    assert end - begin == timedelta(hours=6)
    assert abs((datetime.now(UTC) - end).total_seconds()) < 300
    # And stderr says what ran, in one line, and what to try next
    assert "embedded default: DCS is the local emulator" in done.stderr
    assert f"swept {SEEDED.size} instances" in done.stderr
    assert f"wait-for-restore {DEFAULT_INSTANCE_ID} {DEMO_RESTORE_ID}" in done.stderr
    assert "Traceback" not in done.stderr


def test_filters_narrow_the_sweep_to_the_instances_they_select(
    seeded_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    done = seeded_runs["filtered"]
    assert done.returncode == 0, done.stderr
    chosen = [
        instance
        for instance in SEEDED.instances
        if instance["status"] == "RUNNING" and tags_of(instance).get("env") == "prod"
    ]
    running = [instance for instance in SEEDED.instances if instance["status"] == "RUNNING"]
    assert 0 < len(chosen) < len(running) < SEEDED.size  # each filter leaves some out
    assert without_window(summary_of(done)) == expected_summary(chosen)


def test_wait_for_restore_follows_the_demo_restore_until_it_succeeds(
    seeded_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    done = seeded_runs["demo-restore"]
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["restore_id"], record["status"], record["progress"]) == (DEMO_RESTORE_ID, "succeed", 100.0)
    assert record["updated_at"] is not None
    assert f"restore {DEMO_RESTORE_ID} of {DEFAULT_INSTANCE_ID} succeeded" in done.stderr


def test_wait_for_restore_names_a_restore_dcs_never_listed(
    seeded_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    done = seeded_runs["unknown-restore"]
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        f"dcs-restore-watch: RestoreNotFound: DCS did not list restore not-a-restore of instance {DEFAULT_INSTANCE_ID}"
        " in 1 polls and 0 seconds waited (lookback PT24H)"
    ) in done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception=" not in done.stderr  # the interpreter's own log of the failure is kept quiet


def test_the_first_day_dcs_reads_is_swept_and_a_restore_followed_from_it_is_refused_only_for_its_length(
    seeded_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    # The sweep over 1 January 1000 (both formats) runs: every instance watched, nothing found
    swept = seeded_runs["year-1000"]
    assert swept.returncode == 0, swept.stderr
    summary = summary_of(swept)
    assert summary["window"] == {"begin_time": "1000-01-01T00:00:00Z", "end_time": "1000-01-02T00:00:00Z"}
    assert summary["instances_watched"] == SEEDED.size
    # A restore followed from then passes the year check; its window, to now, is what the watch refuses
    followed = seeded_runs["started-in-year-1000"]
    assert followed.returncode == 2, followed.stderr
    assert "dcs-restore-watch: InvalidQueryError: begin_time: the window is longer than 31 days" in followed.stderr


def test_wait_for_restore_reads_started_at_in_dcs_s_own_format_as_utc() -> None:
    # Given a DCS with a restore that started two hours ago and has succeeded
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    records = generate_records(3, start=started, failed_every=0)
    emulator = Emulator(records)
    with emulator as url:
        environment = {
            **clean_environment(),
            "DCS_ENDPOINT": url,
            "DCS_PROJECT_ID": DEFAULT_PROJECT_ID,
            "DCS_AK": DEFAULT_AK,
            "DCS_SK": DEFAULT_SK,
        }
        # When the command waits for it from its start, given as --begin takes a time: yyyyMMddHHmmss in UTC
        since = started.strftime("%Y%m%d%H%M%S")
        done = run_cli(
            "wait-for-restore", DEFAULT_INSTANCE_ID, records[0]["restore_id"], "--started-at", since, env=environment
        )

    # Then it found the restore, polling from that very second
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["restore_id"] == records[0]["restore_id"]
    assert [dict(parse_qsl(request.query))["begin_time"] for request in emulator.restore_requests()] == [since]


@pytest.mark.long
def test_a_sweep_against_configured_services_names_the_instance_it_could_not_watch_and_exits_1() -> None:
    # Given a DCS of six instances, one of which answers with a page larger than the function reads
    fleet = generate_fleet(6, seed=21)
    records = generate_fleet_records(fleet, 5, start=datetime(2024, 1, 1, tzinfo=UTC))
    broken = fleet[2]
    records[broken["instance_id"]] = [{**generate_records(1)[0], "restore_remark": "x" * 70_000}]
    # And an AWS of the user's own (moto's server here) with the queue and the ledger
    with Emulator(records, instances=fleet) as url, moto_server() as aws_url:
        keys = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}
        aws = partial(boto3.client, endpoint_url=aws_url, region_name="eu-west-1", **keys)
        queue_url = aws("sqs").create_queue(QueueName="failed-restores")["QueueUrl"]
        aws("dynamodb").create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        environment = {
            **clean_environment(),
            "DCS_ENDPOINT": url,
            "DCS_PROJECT_ID": DEFAULT_PROJECT_ID,
            "DCS_AK": DEFAULT_AK,
            "DCS_SK": DEFAULT_SK,
            "MAX_PAGE_BYTES": "65536",
            "FAILED_RESTORES_QUEUE_URL": queue_url,
            "RESTORE_LEDGER_TABLE": "ledger",
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
        # When the fleet is swept over the day the records are in
        done = run_cli("sweep", "--begin", "20240101000000", "--end", "20240102000000", env=environment)
        queued = received_restore_ids(aws("sqs"), queue_url)
        machines = aws("stepfunctions").list_state_machines()["stateMachines"]
        functions = aws("lambda").list_functions()["Functions"]

    # Then the others were watched, and the sweep failed naming the instance and its error
    assert done.returncode == 1, done.stderr
    summary = summary_of(done)
    others = [instance for instance in fleet if instance is not broken]
    seen = [record for instance in others for record in records[instance["instance_id"]]]
    counts = Counter(record["status"] for record in seen)
    assert summary["instances_watched"] == len(others)
    assert summary["counts"] == {status: counts[status] for status in STATUSES}
    assert summary["failed_instances"] == [
        {"instance_id": broken["instance_id"], "name": broken["name"], "error": "DcsInvalidResponseError"}
    ]
    assert summary["instances_failed"] == 1
    assert f"failed: {broken['instance_id']} ({broken['name']}): DcsInvalidResponseError" in done.stderr
    # And the configured services were used: the failed restores are in the user's queue, once each
    assert "embedded default" not in done.stderr
    assert queued == sorted(record["restore_id"] for record in seen if record["status"] == "failed")
    assert summary["failed_restores_queued"] == len(queued) > 0
    # And the state machines ran inside the command: nothing of them was created in the user's AWS
    assert (machines, functions) == ([], [])


def received_restore_ids(sqs: Any, queue_url: str) -> list[str]:
    """The restore IDs of every message in the queue, each message received once (hidden for a minute)."""
    ids: list[str] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        ids.extend(json.loads(message["Body"])["restore_id"] for message in batch)
    return sorted(ids)


USAGE_ERRORS = {
    "tag-without-equals": (["sweep", "--tag", "env"], "--tag 'env': expected key=value"),
    "tag-twice": (["sweep", "--tag", "env=prod", "--tag", "env=dev"], "--tag 'env' is given twice"),
    "begin-without-end": (["sweep", "--begin", "20240101000000"], "--begin and --end go together"),
    "end-without-begin": (["sweep", "--end", "20240101000000"], "--begin and --end go together"),
    "lookback-with-begin": (
        ["sweep", "--lookback", "PT1H", "--begin", "20240101000000", "--end", "20240102000000"],
        "give --lookback or --begin/--end, not both",
    ),
    "bad-lookback": (["sweep", "--lookback", "six hours"], "--lookback 'six hours': Input should be a valid timedelta"),
    "zero-lookback": (["sweep", "--lookback", "PT0S"], "--lookback 'PT0S': Input should be greater than 0 seconds"),
    "bad-time": (
        ["sweep", "--begin", "2024-01-01T00:00:00", "--end", "20240102000000"],
        "--begin '2024-01-01T00:00:00': a datetime needs a timezone",
    ),
    "reversed-window": (["sweep", "--begin", "20240102000000", "--end", "20240101000000"], "--begin is after --end"),
    "bad-status": (["sweep", "--status", "running"], "--status 'running': must be a DCS status in capitals"),
    "name-equal-alone": (["sweep", "--name-equal"], "--name-equal needs --name"),
    "bad-project": (["sweep", "--project-id", "../x"], "--project-id '../x': must be 1-64 letters"),
    "bad-records": (["sweep", "--records", "all"], "argument --records: invalid choice: 'all'"),
    "bad-instance": (["wait-for-restore", "../etc", "r1"], "INSTANCE '../etc': must be 1-64 letters"),
    "negative-poll": (
        ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--poll-seconds", "-1"],
        "--poll-seconds -1: must be 0 to 86400",
    ),
    "wait-too-long": (
        ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--max-wait-seconds", "604801"],
        "--max-wait-seconds 604801: must be 0 to 604800",
    ),
    "wait-not-a-number": (
        ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--max-wait-seconds", "soon"],
        "argument --max-wait-seconds: invalid int value: 'soon'",
    ),
    "started-at-and-lookback": (
        ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--started-at", "2024-01-01T00:00:00Z", "--lookback", "PT1H"],
        "give --started-at or --lookback, not both",
    ),
    "started-at-without-offset": (
        ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--started-at", "2024-01-01T00:00:00"],
        "--started-at '2024-01-01T00:00:00': a datetime needs a timezone; yyyyMMddHHmmss is read as UTC",
    ),
    "started-at-a-number": (
        ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--started-at", "1704067200"],
        "--started-at '1704067200': expected yyyyMMddHHmmss or ISO 8601 with a timezone",
    ),
    "wait-bad-lookback": (
        ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--lookback", "a day"],
        "--lookback 'a day': Input should be a valid timedelta",
    ),
}
# A time DCS cannot read (before year 1000), in each format, from each flag that gives one
for _time in ("00010101000000", "09991231000000", "0001-01-01T00:00:00Z", "0999-12-31T23:59:59Z"):
    USAGE_ERRORS[f"begin-{_time}"] = (
        ["sweep", "--begin", _time, "--end", "10000101000000"],
        f"--begin {_time!r}: must be in the years 1000 to 9999 (UTC)",
    )
    USAGE_ERRORS[f"end-{_time}"] = (
        ["sweep", "--begin", "10000101000000", "--end", _time],
        f"--end {_time!r}: must be in the years 1000 to 9999 (UTC)",
    )
    USAGE_ERRORS[f"started-at-{_time}"] = (
        ["wait-for-restore", DEFAULT_INSTANCE_ID, "r1", "--started-at", _time],
        f"--started-at {_time!r}: must be in the years 1000 to 9999 (UTC)",
    )


@pytest.fixture(scope="module")
def usage_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    return run_all({name: args for name, (args, _) in USAGE_ERRORS.items()}, workers=4)


@pytest.mark.parametrize("case", sorted(USAGE_ERRORS))
def test_a_usage_error_is_one_line_naming_the_flag_and_exits_2(
    usage_runs: dict[str, subprocess.CompletedProcess[str]], case: str
) -> None:
    done = usage_runs[case]
    _, message = USAGE_ERRORS[case]
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"dcs-restore-watch: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""
    assert "embedded default" not in done.stderr  # refused before anything started
