"""Soak: 200 sequential and 50 concurrent invocations over overlapping windows, with random faults.

DCS answers with random 5xx, 429s, dropped connections, truncated bodies and latency spikes;
SQS, DynamoDB and Secrets Manager with random throttling and errors; some records are drifted
for good. A failed invocation is retried like Lambda would (and then the on-failure queue would
be redriven): bounded at ten attempts per event. Afterwards the queue must hold every
well-formed failed restore of every window exactly once. Everything is on loopback and seeded,
so a run is bounded in count and repeatable in what it injects (not in thread timing).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.errors import ConfigurationError
from dcs_restores import DcsError
from devkit.emulator import DEFAULT_INSTANCE_ID, Emulator, Scripted
from devkit.invoke import LocalContext
from devkit.seed import generate_records
from restore_watch.app import lambda_handler
from restore_watch.forwarding import ForwardingError

from ..support import fresh_container
from .conftest import Aws
from .containers import invoke_concurrently

SEQUENTIAL, CONCURRENT, MAX_ATTEMPTS = 200, 50, 10
START = datetime(2024, 1, 1, tzinfo=UTC)
DRIFTED = (4, 9, 304)  # seeded indexes of failed restores that DCS sends with a status nobody knows
DCS_FAULTS = [
    [Scripted(status=503)],
    [Scripted(status=500), Scripted(status=502)],
    [Scripted(status=429, retry_after="0")],
    [Scripted(body="drop")],
    [Scripted(body="truncated")],
    [Scripted(delay=0.2)],
]


@pytest.fixture
def records() -> list[dict[str, Any]]:
    seeded = generate_records(600, failed_every=5)  # 120 failed restores over 70 hours
    for index in DRIFTED:
        seeded[index]["status"] = "exploded"
    return seeded


def window(rng: random.Random) -> dict[str, Any]:
    begin = START + timedelta(minutes=rng.randrange(0, 66 * 60, 7))
    end = begin + timedelta(hours=rng.uniform(2, 6))
    return {
        "instance_id": DEFAULT_INSTANCE_ID,
        "begin_time": f"{begin:%Y%m%d%H%M%S}",
        "end_time": f"{end:%Y%m%d%H%M%S}",
    }


def expected_ids(records: list[dict[str, Any]], windows: list[dict[str, Any]]) -> list[str]:
    """Every well-formed failed restore created inside at least one window."""
    bounds = [
        (datetime.strptime(w["begin_time"], "%Y%m%d%H%M%S"), datetime.strptime(w["end_time"], "%Y%m%d%H%M%S"))
        for w in windows
    ]
    found = set()
    for record in records:
        created = datetime.fromisoformat(record["created_at"].replace("Z", "")).replace(microsecond=0)
        if record["status"] == "failed" and any(begin <= created <= end for begin, end in bounds):
            found.add(record["restore_id"])
    return sorted(found)


def faults_for(rng: random.Random, dcs: Emulator, aws: Aws) -> None:
    """A random mix for the next attempt: most attempts meet some fault, a few meet none."""
    dcs.faults.script.clear()
    if rng.random() < 0.4:
        dcs.script(*rng.choice(DCS_FAULTS))
    aws.faults.rate = rng.choice([0.0, 0.0, 0.02, 0.05])
    aws.faults.partial_rate = rng.choice([0.0, 0.3])


def attempt(event: dict[str, Any], outcomes: list[str]) -> bool:
    """One invocation in this process's container; ``False`` when it failed and Lambda would retry."""
    try:
        lambda_handler(dict(event), LocalContext())
    except (DcsError, ForwardingError, ConfigurationError) as error:
        outcomes.append(type(error).__name__)
        return False
    outcomes.append("ok")
    return True


def settle(events: list[dict[str, Any]], before_each: Callable[[], None], outcomes: list[str]) -> None:
    """Retry each event until it succeeds, like Lambda's retries and a redriven on-failure queue."""
    for event in events:
        for _ in range(MAX_ATTEMPTS):
            before_each()
            if attempt(event, outcomes):
                break
        else:
            raise AssertionError(f"{event} still failing after {MAX_ATTEMPTS} attempts: {outcomes[-MAX_ATTEMPTS:]}")


@pytest.mark.long
def test_soak_sequential_then_concurrent_forwards_each_failed_restore_once(
    function_env: dict[str, str], dcs: Emulator, aws: Aws, records: list[dict[str, Any]]
) -> None:
    rng = random.Random(20261128)
    outcomes: list[str] = []

    def cold_or_warm_with_faults() -> None:
        if rng.random() < 0.2:
            fresh_container()  # a new container: the secret is read again, the clients are new
        faults_for(rng, dcs, aws)

    # 200 sequential invocations over overlapping windows, each retried until it succeeds
    sequential = [window(rng) for _ in range(SEQUENTIAL)]
    settle(sequential, cold_or_warm_with_faults, outcomes)

    # 50 at once, each its own container, on new overlapping windows and the earlier ones
    concurrent = [window(rng) if n % 2 else rng.choice(sequential) for n in range(CONCURRENT)]
    dcs.script(*[answer for _ in range(10) for answer in rng.choice(DCS_FAULTS)])
    aws.faults.rate, aws.faults.partial_rate = 0.02, 0.3
    results = invoke_concurrently(concurrent, POWERTOOLS_LOG_LEVEL="ERROR")
    outcomes += [result.error or "ok" for result in results]
    settle([result.event for result in results if result.error], lambda: faults_for(rng, dcs, aws), outcomes)

    # Every well-formed failed restore of every window is in the queue exactly once
    forwarded = aws.forwarded_ids()
    assert len(forwarded) == len(set(forwarded)), "a failed restore was queued twice"
    assert forwarded == expected_ids(records, sequential + concurrent)
    drifted = {records[index]["restore_id"] for index in DRIFTED}
    assert not drifted & set(forwarded)
    # And the faults really happened: on both sides, and some invocations failed and were retried
    assert sum(aws.faults.injected.values()) > 20
    assert outcomes.count("ok") == SEQUENTIAL + CONCURRENT
    assert len(outcomes) > SEQUENTIAL + CONCURRENT
    print(f"soak: {len(outcomes)} invocations {Counter(outcomes)}; AWS faults injected {dict(aws.faults.injected)}")


@pytest.mark.long
@pytest.mark.usefixtures("function_env")
def test_two_concurrent_invocations_over_the_same_window_forward_each_restore_once(
    aws: Aws, records: list[dict[str, Any]]
) -> None:
    event = {"instance_id": DEFAULT_INSTANCE_ID, "begin_time": "20240101000000", "end_time": "20240104000000"}
    results = invoke_concurrently([event, event])
    # Both claimed from the same ledger at once: whatever each sent, no restore is in the queue twice
    forwarded = aws.forwarded_ids()
    assert forwarded
    assert len(forwarded) == len(set(forwarded))
    # A run that met the other's live claims failed by name, and its retry completes the window
    assert all(result.error in (None, "ForwardingError") for result in results), results
    outcomes: list[str] = []
    settle([result.event for result in results if result.error], lambda: None, outcomes)
    forwarded = aws.forwarded_ids()
    assert len(forwarded) == len(set(forwarded))
    assert forwarded == expected_ids(records, [event])
