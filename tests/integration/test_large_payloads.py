"""Busy windows through the real handler: the answer fits what its caller can receive, and loses no failed restore."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from dcs_restores import RestoreRecord
from devkit.emulator import DEFAULT_INSTANCE_ID, Emulator
from devkit.invoke import LocalContext
from devkit.seed import generate_records
from restore_watch.app import lambda_handler
from restore_watch.shaping import HTTP_ENVELOPE_BYTES

from ..support import AwsResources, fresh_container, function_logs, lambda_bytes, load_event

OTHER_INSTANCE = "b1b2c3d4-0000-1111-2222-333344445555"
RECORDS = 400  # one every 7 minutes from 2024-01-01: about 190 kB of payload, 80 of them failed (about 40 kB)
SMALL_LIMIT = 65_536
WINDOW = {"begin_time": "20240101000000", "end_time": "20240110000000"}


SEEDED = {DEFAULT_INSTANCE_ID: generate_records(RECORDS), OTHER_INSTANCE: generate_records(RECORDS, seed=3)}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    server = Emulator(SEEDED)
    with server:
        yield server


def http_event(**query: str) -> dict[str, Any]:
    event = load_event("http-get-window.json")
    event["rawQueryString"] = urlencode(query)
    event["queryStringParameters"] = query
    return event


def queued_restore_ids(aws: AwsResources) -> list[str]:
    return sorted(json.loads(message["Body"])["restore_id"] for message in aws.messages())


def failed_restore_ids(instance_id: str = DEFAULT_INSTANCE_ID) -> list[str]:
    return sorted(record["restore_id"] for record in SEEDED[instance_id] if record["status"] == "failed")


def test_a_step_functions_window_over_the_limit_keeps_its_failed_records(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources
) -> None:
    # Given a workflow that can hold 64 KiB and a window whose records take three times that
    event = {"instance_id": DEFAULT_INSTANCE_ID, **WINDOW, "max_response_bytes": SMALL_LIMIT}
    whole = lambda_handler({**event, "max_response_bytes": 6_000_000}, LocalContext())
    assert lambda_bytes(whole) > 2 * SMALL_LIMIT
    # When it runs again with its limit
    with function_logs() as logged:
        result = lambda_handler(event, LocalContext())
    # Then the answer fits, carries every failed restore, and says so
    assert lambda_bytes(result) <= SMALL_LIMIT
    assert result["records_included"] == "failed"
    assert sorted(record["restore_id"] for record in result["records"]) == failed_restore_ids()
    assert sum(result["counts"].values()) == RECORDS
    assert result["counts"]["failed"] == len(result["records"])
    assert result["forwarded"] == {"queued": 0, "already_forwarded": len(result["records"]), "possible_duplicates": 0}
    unchanged = {"instance_id", "project_id", "window", "total", "counts", "truncated"}
    assert {key: result[key] for key in unchanged} == {key: whole[key] for key in unchanged}
    # And forwarding was not affected: each failed restore is queued once
    assert queued_restore_ids(aws) == failed_restore_ids()
    reduced = [line for line in logged() if line["message"] == "payload reduced to fit the response limit"]
    assert [(line["records_included"], line["max_bytes"]) for line in reduced] == [("failed", SMALL_LIMIT)]


def test_the_configured_limit_caps_what_an_event_asks_for(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_RESPONSE_BYTES", str(SMALL_LIMIT))
    result = lambda_handler(
        {"instance_id": DEFAULT_INSTANCE_ID, **WINDOW, "max_response_bytes": 200_000}, LocalContext()
    )
    assert lambda_bytes(result) <= SMALL_LIMIT
    assert result["records_included"] == "failed"


def test_an_event_may_ask_for_no_records_at_all(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources
) -> None:
    result = lambda_handler({"instance_id": DEFAULT_INSTANCE_ID, **WINDOW, "records": "none"}, LocalContext())
    assert (result["records"], result["records_included"]) == ([], "none")
    assert sum(result["counts"].values()) == RECORDS
    assert queued_restore_ids(aws) == failed_restore_ids()


def test_an_http_body_fits_the_limit_as_lambda_returns_it(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_RESPONSE_BYTES", str(SMALL_LIMIT))
    answer = lambda_handler(http_event(**WINDOW), LocalContext())
    assert answer["statusCode"] == 200
    assert lambda_bytes(answer) <= SMALL_LIMIT  # the whole response: status, headers and the escaped body
    body = json.loads(answer["body"])
    assert body["records_included"] == "failed"
    assert sorted(record["restore_id"] for record in body["records"]) == failed_restore_ids()
    assert queued_restore_ids(aws) == failed_restore_ids()


def test_an_http_answer_is_whole_up_to_the_limit_and_never_over_it(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the size of the whole answer, with the room fit() keeps for the response around the body
    whole = lambda_handler(http_event(**WINDOW), LocalContext())
    counted = len(json.dumps(whole["body"])) + HTTP_ENVELOPE_BYTES
    assert lambda_bytes(whole) <= counted
    # Then a limit of exactly that keeps every record, and any less keeps the failed ones, within the limit
    for limit, included in ((counted, "all"), (counted - 1, "failed"), (lambda_bytes(whole) - 1, "failed")):
        monkeypatch.setenv("MAX_RESPONSE_BYTES", str(limit))
        fresh_container()
        answer = lambda_handler(http_event(**WINDOW), LocalContext())
        assert lambda_bytes(answer) <= limit
        assert json.loads(answer["body"])["records_included"] == included


@pytest.mark.parametrize(("records", "included"), [("failed", "failed"), ("none", "none"), ("all", "all")])
def test_an_http_caller_chooses_which_records_come_back(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources, records: str, included: str
) -> None:
    answer = lambda_handler(http_event(**WINDOW, records=records), LocalContext())
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["records_included"]) == (200, included)
    expected = {"all": RECORDS, "failed": body["counts"]["failed"], "none": 0}[included]
    assert len(body["records"]) == expected
    assert queued_restore_ids(aws) == failed_restore_ids()


def test_an_unknown_record_selection_is_a_400_naming_it(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources
) -> None:
    answer = lambda_handler(http_event(**WINDOW, records="some"), LocalContext())
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["error"]["details"]["field"]) == (400, "records")
    assert emulator.restore_requests() == []


def test_a_schedule_lowers_the_limit_as_a_workflow_does(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources
) -> None:
    event = {
        "instance_id": OTHER_INSTANCE,
        "lookback": "P9D",
        "scheduled_time": "2024-01-10T00:00:00Z",
        "max_response_bytes": 100_000,  # the window whole is about 190 kB, its failed records about 40
    }
    result = lambda_handler(event, LocalContext())
    assert lambda_bytes(result) <= 100_000
    assert result["records_included"] == "failed"
    assert sorted(record["restore_id"] for record in result["records"]) == failed_restore_ids(OTHER_INSTANCE)
    assert queued_restore_ids(aws) == failed_restore_ids(OTHER_INSTANCE)


FOLLOWING = "c1b2c3d4-0000-1111-2222-333344445555"  # an instance whose window holds one outsized failed restore
WIDE = "\U0001f5c4"  # one character: 4 bytes in UTF-8, 12 as an escaped surrogate pair


@pytest.mark.parametrize(
    ("field", "text"),
    [("restore_remark", "r" * 1_100_000), ("error_code", WIDE * 75_000)],
    ids=["a remark of 1.1 MB", "an error code of 300 kB"],
)
def test_a_followed_restore_of_any_size_fits_the_workflow_s_limit_cut_and_says_so(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources, field: str, text: str
) -> None:
    # Given a failed restore whose one free-text field alone is far larger than a workflow's answer may be
    [record] = generate_records(1, start=datetime(2024, 1, 2, tzinfo=UTC), failed_every=1)
    emulator.add_records([{**record, field: text}], instance_id=FOLLOWING)
    event = {
        "instance_id": FOLLOWING,
        **WINDOW,
        "restore_id": record["restore_id"],
        "records": "none",
        "max_response_bytes": SMALL_LIMIT,
    }

    # When wait-for-restore's poll follows it
    with function_logs() as logged:
        result = lambda_handler(event, LocalContext())

    # Then the answer fits its limit in either encoding (UTF-8 as the runtime sends it, escaped as counted)
    assert lambda_bytes(result) <= len(json.dumps(result)) <= SMALL_LIMIT
    # And the restore is there, that field cut and named, the rest as DCS sent it
    restore = result["restore"]
    assert (restore["restore_id"], restore["status"]) == (record["restore_id"], "failed")
    assert restore["cut_fields"] == [field]
    assert restore[field]
    assert text.startswith(restore[field])
    as_sent = RestoreRecord.model_validate({**record, field: text}).model_dump(mode="json")
    assert {key: value for key, value in restore.items() if key not in (field, "cut_fields")} == {
        key: value for key, value in as_sent.items() if key != field
    }
    # And the failed restore was queued once, and the reduction logged
    assert queued_restore_ids(aws) == [record["restore_id"]]
    [reduced] = [line for line in logged() if line["message"] == "payload reduced to fit the response limit"]
    assert reduced["restore_cut_fields"] == [field]
