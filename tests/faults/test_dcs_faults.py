"""DCS misbehaving under a whole invocation: each fault has its documented outcome, and no failed restore is lost.

Every case runs the handler on a scheduled-style (direct) event over a three-page window, like
Lambda would, then once more without the fault, like Lambda's retry. The invariant after the
first run: either it returned and every well-formed failed restore of the window is in the
queue exactly once, or it raised one of the named errors (so Lambda retries) and the queue holds
nothing twice and nothing foreign. After the retry, each is there exactly once.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from dcs_restores import DcsError, DcsInvalidResponseError, DcsTimeoutError, DcsUnavailableError
from devkit.emulator import DEFAULT_INSTANCE_ID, Emulator, Scripted
from devkit.invoke import LocalContext
from devkit.seed import vendor_time
from restore_watch.app import lambda_handler
from restore_watch.forwarding import ForwardingError

from ..support import free_port, fresh_container
from .conftest import Aws, failed_ids

EVENT = {"instance_id": DEFAULT_INSTANCE_ID, "begin_time": "20240101000000", "end_time": "20240131000000"}


@dataclass
class Case:
    """A fault, applied to the stage; ``raises`` is the documented outcome (``None``: the run succeeds)."""

    apply: Callable[[Emulator, pytest.MonkeyPatch], None]
    raises: type[Exception] | None = None
    remaining_ms: int = 60_000
    drifted: dict[int, dict[str, Any]] = field(default_factory=dict)


def script(*answers: Scripted) -> Callable[[Emulator, pytest.MonkeyPatch], None]:
    return lambda dcs, _: dcs.script(*answers)


def refuse(_: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCS_ENDPOINT", f"http://127.0.0.1:{free_port()}")


def total_shifts(delta: int) -> Callable[[Emulator, pytest.MonkeyPatch], None]:
    def apply(dcs: Emulator, _: pytest.MonkeyPatch) -> None:
        dcs.faults.total_num_delta = delta

    return apply


# One drifted record per kind of schema drift, each on a failed restore: every 100th record from the
# newest (window index 0 is the newest; records are seeded oldest first).
DRIFT: dict[int, dict[str, Any]] = {
    0: {"status": "exploded"},
    100: {"created_at": "yesterday"},
    200: {"progress": "150"},
    300: {"restore_id": None},
    400: {"updated_at": "2024-13-45T99:99:99Z"},
    500: {"error_code": ["dcs.08.0001"]},
    600: {"status": None},
    700: {"surprise": {"new": "field"}, "backup_remark": {}},  # an unknown field and an empty one: still valid
}


def seeded_index(window_index: int, records: list[dict[str, Any]]) -> int:
    return len(records) - 1 - window_index


def drift(dcs: Emulator, _: pytest.MonkeyPatch) -> None:
    dcs.faults.drift = copy.deepcopy(DRIFT)


CASES = {
    "a latency spike past the deadline": Case(script(Scripted(delay=4.0)), DcsTimeoutError, remaining_ms=6_000),
    "a latency spike within the deadline": Case(script(Scripted(delay=0.3), Scripted(delay=0.3))),
    "a burst of 500s shorter than the retries": Case(script(*[Scripted(status=500)] * 2)),
    "a burst of 503s longer than the retries": Case(script(*[Scripted(status=503)] * 12), DcsUnavailableError),
    "429 with Retry-After": Case(script(Scripted(status=429, retry_after="1"))),
    "connection refused": Case(refuse, DcsUnavailableError),
    "a dropped connection": Case(script(Scripted(body="drop"))),
    "truncated JSON": Case(script(Scripted(body="truncated")), DcsInvalidResponseError),
    "a body that is not JSON": Case(script(Scripted(body="not-json")), DcsInvalidResponseError),
    "total_num growing mid-window": Case(total_shifts(+7)),
    "total_num shrinking mid-window": Case(total_shifts(-7)),
    "schema drift, one record per kind": Case(drift, drifted=DRIFT),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_dcs_fault_loses_and_doubles_nothing(
    case: Case,
    function_env: dict[str, str],
    dcs: Emulator,
    aws: Aws,
    records: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invalid = {index: fields for index, fields in case.drifted.items() if "surprise" not in fields}
    drifted_ids = {records[seeded_index(index, records)]["restore_id"] for index in invalid}
    assert all(records[seeded_index(index, records)]["status"] == "failed" for index in case.drifted)
    expected = [restore for restore in failed_ids(records) if restore not in drifted_ids]
    case.apply(dcs, monkeypatch)

    # The first run: the documented outcome, and nothing doubled or foreign in the queue
    try:
        payload = lambda_handler(dict(EVENT), LocalContext(remaining_ms=case.remaining_ms))
    except (DcsError, ForwardingError) as error:
        raised: Exception | None = error
    else:
        raised = None
    assert type(raised) is (case.raises or type(None)), f"{type(raised).__name__}: {raised}"
    if raised is not None:
        forwarded = aws.forwarded_ids()
        assert set(forwarded) <= set(expected)
        assert max(Counter(forwarded).values(), default=1) == 1
    else:
        assert aws.forwarded_ids() == expected
        assert payload["forwarded"]["queued"] == len(expected)
        assert len(payload["records"]) + len(payload["invalid_records"]) == len(records)
        # Each drifted record is reported by its place in the window, never dropped silently
        assert sorted(reported["index"] for reported in payload["invalid_records"]) == sorted(invalid)

    # Lambda's retry, in a new container, with DCS well again: every failed restore exactly once
    dcs.faults.script.clear()
    dcs.faults.total_num_delta = 0
    monkeypatch.setenv("DCS_ENDPOINT", dcs.url)
    fresh_container()
    retried = lambda_handler(dict(EVENT), LocalContext())
    assert aws.forwarded_ids() == expected
    assert retried["forwarded"]["queued"] + retried["forwarded"]["already_forwarded"] == len(expected)


def test_duplicates_across_pages_are_forwarded_once(
    function_env: dict[str, str], dcs: Emulator, aws: Aws, records: list[dict[str, Any]]
) -> None:
    # Given five new restores (one failed) that arrive after the first page, shifting the rest by five,
    # and a failed restore DCS lists twice, on both sides of a page boundary
    arrivals = [
        {**copy.deepcopy(records[n]), "restore_id": f"late-{n}", "created_at": f"2024-01-20T00:00:{n:02d}.000Z"}
        for n in (0, 1, 2, 3, 49)
    ]
    arrivals[-1]["status"] = "failed"
    # Seeded index 1499 (failed) is window index 1000, the first of page two; its copy, dated a
    # second after seeded index 1500, takes window index 999, the last of page one
    twice = copy.deepcopy(records[1499])
    created = datetime.fromisoformat(records[1500]["created_at"].replace("Z", "+00:00")) + timedelta(seconds=1)
    twice["created_at"] = vendor_time(created)
    dcs.add_records([twice])
    newest_first = sorted([*records, twice], key=lambda record: record["created_at"], reverse=True)
    where = [index for index, record in enumerate(newest_first) if record["restore_id"] == twice["restore_id"]]
    assert where == [999, 1001]
    dcs.faults.arrivals = arrivals
    payload = lambda_handler(dict(EVENT), LocalContext())
    # Then no restore appears twice in the payload or the queue
    ids = [record["restore_id"] for record in payload["records"]]
    assert len(ids) == len(set(ids))
    forwarded = aws.forwarded_ids()
    assert len(forwarded) == len(set(forwarded))
    assert set(failed_ids(records)) <= set(forwarded)
    # And the next run sees the late failed restores too, each once
    lambda_handler(dict(EVENT), LocalContext())
    assert aws.forwarded_ids() == sorted({*failed_ids(records), *failed_ids(arrivals)})
