"""Every file in events/ through the real handler: DCS is the emulator, AWS is moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dcs_restores import InvalidQueryError, RestoreStatus
from devkit.emulator import DEFAULT_INSTANCE_ID, Emulator
from devkit.invoke import LocalContext
from devkit.seed import generate_records
from restore_watch.app import lambda_handler
from restore_watch.errors import UnknownEventError
from restore_watch.payload import RestorePayload

from ..support import EVENTS, AwsResources, load_event

OTHER_INSTANCE = "b1b2c3d4-0000-1111-2222-333344445555"

# file -> ("payload", records read, total) | ("http", status, field or None) | (exception, field or None)
OUTCOMES: dict[str, tuple[Any, ...]] = {
    "http-get-window.json": ("http", 200, 35),
    "http-get-page.json": ("http", 200, 5),
    "http-get-openapi.json": ("openapi",),
    "bad-http-limit-too-large.json": ("http", 400, "limit"),
    "bad-http-missing-end-time.json": ("http", 400, "end_time"),
    "bad-http-reversed-window.json": ("http", 400, "begin_time"),
    "schedule-scheduler.json": ("payload", 35, 35),
    "schedule-rule.json": ("payload", 35, 35),
    "direct-invoke.json": ("payload", 35, 35),
    "stepfunctions-task.json": ("payload", 20, 35),
    "stepfunctions-watch-restore.json": ("payload", 35, 35),
    "bad-unknown-shape.json": (UnknownEventError, None),
    "bad-hostile-instance.json": (InvalidQueryError, "instance_id"),
    "bad-window-too-long.json": (InvalidQueryError, "begin_time"),
    "bad-scheduler-lookback.json": (InvalidQueryError, "lookback"),
    "bad-scheduler-instance-ids.json": (InvalidQueryError, "instance_ids"),  # one invocation, one instance
}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # Both instances of bad-scheduler-instance-ids.json exist: the list is refused all the same
    server = Emulator({DEFAULT_INSTANCE_ID: generate_records(35), OTHER_INSTANCE: generate_records(12, seed=3)})
    with server:
        yield server


def test_every_event_file_has_an_expected_outcome() -> None:
    assert sorted(path.name for path in EVENTS.glob("*.json")) == sorted(OUTCOMES)


def assert_queue_holds_exactly_the_failed_records(aws: AwsResources, payload: dict[str, Any]) -> None:
    if payload["records_included"] == "none":  # nothing to compare the bodies with
        assert len(aws.messages()) == payload["forwarded"]["queued"] > 0
        return
    expected = {
        record["restore_id"]: {**record, "project_id": payload["project_id"], "instance_id": payload["instance_id"]}
        for record in payload["records"]
        if record["status"] == "failed"
    }
    messages = aws.messages()
    assert len(messages) == len(expected)
    for message in messages:
        body = json.loads(message["Body"])
        seen_at = body.pop("seen_at")
        assert seen_at.startswith("20")
        assert body == expected[body["restore_id"]]
        attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
        assert attributes == {
            "instance_id": payload["instance_id"],
            "restore_id": body["restore_id"],
            "error_code": body["error_code"],
        }
    assert payload["forwarded"]["queued"] == len(expected)


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_event_file(name: str, function_env: dict[str, str], emulator: Emulator, aws: AwsResources) -> None:
    # Given the event file and a fresh container
    event = load_event(name)
    kind, *expected = OUTCOMES[name]
    # When the handler runs it, Then the outcome is the one documented for it
    if isinstance(kind, type):
        with pytest.raises(kind) as raised:
            lambda_handler(event, LocalContext())
        if expected[0] is not None:
            assert getattr(raised.value, "field", None) == expected[0]
        assert emulator.restore_requests() == []  # refused before anything went to DCS
        assert aws.messages() == []
        return
    outcome = lambda_handler(event, LocalContext())
    if kind == "openapi":
        document = json.loads(outcome["body"])
        assert outcome["statusCode"] == 200
        assert "/instances/{instance_id}/restores" in document["paths"]
        return
    if kind == "http":
        status, detail = expected
        body = json.loads(outcome["body"])
        assert outcome["statusCode"] == status
        assert outcome["headers"]["Content-Type"] == "application/json"
        if status != 200:
            assert body["error"]["details"]["field"] == detail
            assert body["error"]["code"] == "invalid_request"
            assert emulator.restore_requests() == []
            return
        assert len(body["records"]) == detail
        answer = body
    else:
        records, total = expected
        assert sum(outcome["counts"].values()) == records
        assert outcome["total"] == total
        answer = outcome
    payload = RestorePayload.model_validate(answer)  # the one shape: no key missing, none extra
    assert payload.to_json() == answer
    assert payload.records_included == event.get("records", "all")
    if payload.records_included == "all":
        assert sum(payload.counts.values()) == len(payload.records)
    elif payload.records_included == "none":  # a workflow that follows one restore needs only its record
        assert payload.records == []
        assert payload.restore is not None
        assert payload.restore.restore_id == event["restore_id"]
    else:  # the workflow asked for the failed restores alone, to stay within a state's 256 KB
        assert {record.status for record in payload.records} == {"failed"}
        assert len(payload.records) == payload.counts[RestoreStatus.FAILED] > 0
    assert payload.invalid_records_omitted == 0
    assert_queue_holds_exactly_the_failed_records(aws, answer)
