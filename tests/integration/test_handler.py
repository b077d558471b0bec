"""The handler's edges: upstream failures, configuration, secrets, logs."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from typing import Any

import boto3
import pytest

from common.errors import ConfigurationError
from dcs_restores import DcsAuthError, DcsNotFoundError, DcsTimeoutError, DcsUnavailableError, InvalidQueryError
from devkit.emulator import DEFAULT_SK, Emulator, Scripted
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler
from restore_watch.errors import UnknownEventError
from restore_watch.payload import RestorePayload

from ..support import AwsResources, function_logs, load_event


def http(event_name: str = "http-get-window.json") -> tuple[int, dict[str, Any]]:
    return http_event(load_event(event_name))


def http_event(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = lambda_handler(event, LocalContext())
    return answer["statusCode"], json.loads(answer["body"])


@pytest.mark.parametrize(
    ("scripted", "status", "code"),
    [
        ([Scripted(status=503)] * 4, 502, "dcs_unavailable"),
        ([Scripted(body="not-json")], 502, "dcs_invalid_response"),
        ([Scripted(status=400)], 502, "dcs_rejected"),
    ],
)
def test_http_maps_dcs_failures_to_502(
    function_env: dict[str, str], emulator: Emulator, scripted: list[Scripted], status: int, code: str
) -> None:
    emulator.script(*scripted)
    answer_status, body = http()
    assert answer_status == status
    assert body["error"]["code"] == code
    assert body["error"]["details"]["dcs_request_id"]
    assert emulator.url not in json.dumps(body)  # no internal URL goes out


def test_http_maps_a_dcs_timeout_to_504(function_env: dict[str, str], emulator: Emulator) -> None:
    # Given DCS slower than the time left to the invocation
    emulator.faults.latency = 2.0
    answer = lambda_handler(load_event("http-get-window.json"), LocalContext(remaining_ms=4_500))
    assert answer["statusCode"] == 504
    assert json.loads(answer["body"])["error"]["code"] == "dcs_timeout"


def test_schedule_invokes_raise_named_errors_for_lambda_to_retry(
    function_env: dict[str, str], emulator: Emulator
) -> None:
    emulator.faults.latency = 2.0
    with pytest.raises(DcsTimeoutError):
        lambda_handler(load_event("schedule-scheduler.json"), LocalContext(remaining_ms=4_500))
    emulator.faults.latency = 0
    emulator.script(*[Scripted(status=500)] * 4)
    with pytest.raises(DcsUnavailableError):
        lambda_handler(load_event("schedule-scheduler.json"), LocalContext())


def test_a_rotated_secret_is_read_again_after_an_auth_failure(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources
) -> None:
    # Given a secret with a wrong key, then corrected
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId=aws.secret_name, SecretString=json.dumps({"ak": emulator.ak, "sk": "old"}))
    with pytest.raises(DcsAuthError):
        lambda_handler(load_event("direct-invoke.json"), LocalContext())
    secrets.put_secret_value(SecretId=aws.secret_name, SecretString=json.dumps({"ak": emulator.ak, "sk": DEFAULT_SK}))
    # Then the next invocation in the same container reads the new value (no cache clearing here)
    assert lambda_handler(load_event("direct-invoke.json"), LocalContext())["total"] == 35


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("not json", "could not be read"),
        (json.dumps({"ak": "AK"}), "ak and sk"),
        (json.dumps(["ak", "sk"]), "ak and sk"),
        (json.dumps({"ak": "", "sk": ""}), "must not be empty"),
    ],
)
def test_a_malformed_secret_is_a_configuration_error_that_shows_no_value(
    function_env: dict[str, str], aws: AwsResources, secret: str, reason: str
) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=aws.secret_name, SecretString=secret)
    with pytest.raises(ConfigurationError, match=reason) as raised:
        lambda_handler(load_event("direct-invoke.json"), LocalContext())
    assert raised.value.variable == "DCS_CREDENTIALS_SECRET"
    assert secret not in str(raised.value) or secret == ""


def test_an_unreachable_secret_is_a_configuration_error(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCS_CREDENTIALS_SECRET", "no-such-secret")
    with pytest.raises(ConfigurationError, match="could not be read"):
        lambda_handler(load_event("direct-invoke.json"), LocalContext())
    status, body = http()
    assert status == 500
    assert body["error"] == {
        "code": "configuration_error",
        "message": "The function is misconfigured.",
        "details": {"variable": "DCS_CREDENTIALS_SECRET"},
    }


def test_local_keys_stand_in_for_the_secret(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DCS_CREDENTIALS_SECRET")
    monkeypatch.setenv("DCS_AK", "EMULATORACCESSKEY001")
    monkeypatch.setenv("DCS_SK", DEFAULT_SK)
    assert lambda_handler(load_event("direct-invoke.json"), LocalContext())["total"] == 35


def test_without_a_ledger_it_still_forwards_and_says_so(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, aws: AwsResources
) -> None:
    monkeypatch.delenv("RESTORE_LEDGER_TABLE")
    with function_logs() as logged:
        payload = lambda_handler(load_event("direct-invoke.json"), LocalContext())
    assert payload["forwarded"]["queued"] == 7
    [warning] = [line for line in logged() if line["level"] == "WARNING"]
    assert warning["message"].startswith("RESTORE_LEDGER_TABLE is not set")
    assert warning["name"] == "restore_watch.container"


@pytest.mark.parametrize(
    ("event_file", "correlation_id"),
    [
        ("schedule-scheduler.json", "2024-01-01T06:00:00Z"),  # the scheduled time
        ("stepfunctions-task.json", load_event("stepfunctions-task.json")["correlation_id"]),  # the caller's
        ("http-get-window.json", load_event("http-get-window.json")["requestContext"]["requestId"]),
    ],
)
def test_every_log_line_of_an_invocation_is_json_with_its_correlation_id(
    function_env: dict[str, str], emulator: Emulator, event_file: str, correlation_id: str
) -> None:
    # Given DCS failing once, so that the layer's client logs its retry
    emulator.script(Scripted(status=503))
    # When the function runs
    with function_logs() as logged:
        lambda_handler(load_event(event_file), LocalContext())
    # Then the layer's lines and the use case's come out in one stream, each with the invocation's correlation ID
    lines = logged()
    assert {"dcs_restores.client", "restore_watch.service"} <= {line["name"] for line in lines}
    assert {line.get("correlation_id") for line in lines} == {correlation_id}
    assert {line.get("function_request_id") for line in lines} == {lines[0]["function_request_id"]}


def test_an_http_failure_is_logged_by_name_at_its_level(function_env: dict[str, str], emulator: Emulator) -> None:
    # Given DCS refusing the function's credentials, and a request with a bad limit
    emulator.script(Scripted(status=401))
    bad = load_event("bad-http-limit-too-large.json")
    with function_logs() as logged:
        refused = lambda_handler(load_event("http-get-window.json"), LocalContext())
        invalid = lambda_handler(bad, LocalContext())
    # Then each answer is also a log line: an error for the peer's failure, a warning for the caller's
    assert (refused["statusCode"], invalid["statusCode"]) == (502, 400)
    failures = [line for line in logged() if line["message"] == "invocation failed"]
    assert [(line["level"], line["error"]) for line in failures] == [
        ("ERROR", "DcsAuthError"),
        ("WARNING", "InvalidQueryError"),
    ]


def test_logs_and_answers_carry_no_credentials(
    function_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # Our own loggers at DEBUG; botocore's wire dumps at DEBUG would show any secret, so they stay at INFO
    emulator.script(Scripted(status=503))
    with function_logs(logging.DEBUG) as lines:
        payload = lambda_handler(load_event("direct-invoke.json"), LocalContext())
    output = capsys.readouterr()
    logged = output.out + output.err + json.dumps(lines())
    assert "restores watched" in logged
    assert "retrying" in logged
    for secret in (DEFAULT_SK, "Signature=", "Authorization"):
        assert secret not in logged
        assert secret not in json.dumps(payload)


def test_metrics_are_emitted_as_emf(function_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    lambda_handler(load_event("direct-invoke.json"), LocalContext())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [blob] = [line for line in lines if "RecordsFailed" in line]  # a cold start adds a blob of its own
    assert blob["RecordsFailed"] == [7.0]
    assert blob["FailedForwarded"] == [7.0]
    assert {metric["Name"] for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]} >= {
        "RecordsSucceed",
        "RecordsFailed",
        "InvalidRecords",
        "AlreadyForwarded",
        "DcsLatency",
    }


def test_a_cold_start_is_counted_once(function_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools.metrics.provider.cold_start import reset_cold_start_flag

    # Given a new container (Powertools' own flag says so), invoked twice
    reset_cold_start_flag()  # type: ignore[no-untyped-call]
    for _ in range(2):
        lambda_handler(load_event("direct-invoke.json"), LocalContext())
    # Then one ColdStart metric was emitted, by the first invocation
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [blob["ColdStart"] for blob in blobs if "ColdStart" in blob] == [[1.0]]


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("DCS_ENDPOINT", "http://dcs.example.com", "https"),
        ("DCS_PROJECT_ID", "../x", "letters, digits"),
        ("MAX_WINDOW_DAYS", "0", "greater than or equal to 1"),
        ("MAX_RECORDS", "lots", "integer"),
        ("FAILED_RESTORES_QUEUE_URL", None, "is required"),
        ("FAILED_RESTORES_QUEUE_URL", "failed-restores", "must be a queue URL"),
        ("MAX_PAGE_BYTES", "1024", "greater than or equal to 65536"),
    ],
)
def test_bad_settings_name_the_variable(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, variable: str, value: str | None, reason: str
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=reason) as raised:
        lambda_handler(load_event("direct-invoke.json"), LocalContext())
    assert raised.value.variable == variable


def test_no_credentials_at_all_is_a_configuration_error(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DCS_CREDENTIALS_SECRET")
    with pytest.raises(ConfigurationError, match="DCS_AK and DCS_SK"):
        lambda_handler(load_event("direct-invoke.json"), LocalContext())


def test_a_scheduled_rule_needs_a_configured_instance(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DCS_INSTANCE_ID")
    with pytest.raises(Exception, match="DCS_INSTANCE_ID") as raised:
        lambda_handler(load_event("schedule-rule.json"), LocalContext())
    assert type(raised.value).__name__ == "InvalidQueryError"


@pytest.mark.parametrize(
    ("instance_id", "query", "field"),
    [
        ("..%2F..%2Fsecrets", {"begin_time": "20240101000000", "end_time": "20240101060000"}, "instance_id"),
        ("a b", {"begin_time": "20240101000000", "end_time": "20240101060000"}, "instance_id"),
        ("i-1", {"begin_time": "yesterday", "end_time": "20240101060000"}, "begin_time"),
        ("i-1", {"begin_time": "20240101000000", "end_time": "20240101060000", "offset": "-1"}, "offset"),
        ("i-1", {"begin_time": "20240101000000", "end_time": "20240101060000", "project_id": "../x"}, "project_id"),
    ],
)
def test_http_bad_input_is_400_naming_the_field(
    function_env: dict[str, str], emulator: Emulator, instance_id: str, query: dict[str, str], field: str
) -> None:
    event = load_event("http-get-window.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/instances/{instance_id}/restores"
    event["pathParameters"] = {"instance_id": instance_id}
    event["queryStringParameters"] = query
    event["rawQueryString"] = "&".join(f"{name}={value}" for name, value in query.items())
    answer = lambda_handler(event, LocalContext())
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 400
    assert body["error"]["details"]["field"] == field
    assert emulator.restore_requests() == []


def test_an_instance_dcs_does_not_know_is_404_over_http(function_env: dict[str, str]) -> None:
    event = load_event("http-get-window.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/instances/no-such-instance/restores"
    event["pathParameters"] = {"instance_id": "no-such-instance"}
    status, body = http_event(event)
    assert status == 404
    assert body["error"]["code"] == "instance_not_found"
    assert body["error"]["details"]["dcs_error_code"] == "DCS.4204"


def test_a_project_the_function_does_not_read_is_400_and_dcs_is_not_asked(
    function_env: dict[str, str], emulator: Emulator
) -> None:
    event = load_event("http-get-window.json")
    event["queryStringParameters"]["project_id"] = "ffffffffffffffffffffffffffffffff"
    status, body = http_event(event)
    assert (status, body["error"]["details"]) == (400, {"field": "project_id"})
    assert emulator.restore_requests() == []


def test_an_unknown_route_is_404(function_env: dict[str, str]) -> None:
    event = load_event("http-get-openapi.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/admin"
    event["routeKey"] = "GET /admin"
    assert lambda_handler(event, LocalContext())["statusCode"] == 404


def test_a_schedule_that_still_lists_instances_is_refused_before_dcs_and_pointed_at_the_sweep(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources
) -> None:
    # Given a schedule written for the list of instances one invocation used to watch
    event = load_event("schedule-scheduler.json")
    event["instance_ids"] = [event.pop("instance_id"), "b1b2c3d4-0000-1111-2222-333344445555"]
    # When it runs, Then it fails by name, says where watching many went, and nothing was asked or queued
    with function_logs() as logged, pytest.raises(InvalidQueryError) as refused:
        lambda_handler(event, LocalContext())
    assert refused.value.field == "instance_ids"
    assert str(refused.value) == (
        "instance_ids: one invocation watches one instance: watch many with the fleet sweep "
        "(see the README's Workflows)"
    )
    assert emulator.restore_requests() == []
    assert aws.messages() == []
    failures = [line for line in logged() if line["message"] == "invocation failed"]
    assert [(line["error"], line["reason"]) for line in failures] == [("InvalidQueryError", str(refused.value))]


def test_a_schedule_for_an_instance_dcs_does_not_know_raises_its_named_error(
    function_env: dict[str, str], aws: AwsResources
) -> None:
    event = load_event("schedule-scheduler.json")
    event["instance_id"] = "no-such-instance"
    with pytest.raises(DcsNotFoundError):
        lambda_handler(event, LocalContext())
    assert aws.messages() == []


def test_a_secret_that_fails_after_an_auth_failure_fails_the_next_invocation_by_name(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources
) -> None:
    # Given a warm container, then a rotation gone wrong: DCS refuses the old keys and the new secret is malformed
    lambda_handler(load_event("direct-invoke.json"), LocalContext())
    boto3.client("secretsmanager").put_secret_value(SecretId=aws.secret_name, SecretString="not json")
    emulator.script(Scripted(status=401))
    # When the schedule runs twice, Then the first fails on DCS's refusal, the second on re-reading the secret
    with pytest.raises(DcsAuthError):
        lambda_handler(load_event("schedule-scheduler.json"), LocalContext())
    with pytest.raises(ConfigurationError) as raised:
        lambda_handler(load_event("schedule-scheduler.json"), LocalContext())
    assert raised.value.variable == "DCS_CREDENTIALS_SECRET"


def test_a_queue_url_that_names_no_queue_is_a_configuration_error_that_leaves_no_claim(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, aws: AwsResources
) -> None:
    # Given a well-formed queue URL whose queue does not exist
    monkeypatch.setenv("FAILED_RESTORES_QUEUE_URL", aws.queue_url + "-gone")
    # When failed restores are forwarded, Then the setting is named (no retry would help)
    with pytest.raises(ConfigurationError) as raised:
        lambda_handler(load_event("direct-invoke.json"), LocalContext())
    assert raised.value.variable == "FAILED_RESTORES_QUEUE_URL"
    assert type(raised.value) is ConfigurationError
    # And no claim is left in the ledger to hold up the run after the fix
    items = boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    assert [item for item in items if item["state"]["S"] == "sending"] == []


WATCHED = load_event("stepfunctions-watch-restore.json")["restore_id"]  # a failed restore of the seeded window


@pytest.mark.parametrize(
    ("restore_id", "status"), [(WATCHED, "failed"), ("not-listed-yet", None)], ids=["listed", "not listed yet"]
)
def test_a_workflow_following_one_restore_gets_its_record_or_null(
    function_env: dict[str, str], restore_id: str, status: str | None
) -> None:
    # Given a workflow step that follows one restore and wants no other record
    event = {**load_event("direct-invoke.json"), "restore_id": restore_id, "records": "none"}
    # When it runs, Then the payload carries that restore's record (null until DCS lists it), beside the counts
    payload = RestorePayload.model_validate(lambda_handler(event, LocalContext()))
    assert payload.records == []
    assert (payload.restore.status if payload.restore else None) == status
    assert sum(payload.counts.values()) == 35


def test_the_http_api_follows_one_restore_too(function_env: dict[str, str]) -> None:
    event = load_event("http-get-window.json")
    event["queryStringParameters"]["restore_id"] = WATCHED
    event["rawQueryString"] += f"&restore_id={WATCHED}"
    answer = lambda_handler(event, LocalContext())
    assert json.loads(answer["body"])["restore"]["restore_id"] == WATCHED
    event["queryStringParameters"]["restore_id"] = "../etc"
    event["rawQueryString"] += "&restore_id=../etc"
    assert lambda_handler(event, LocalContext())["statusCode"] == 400


def test_a_restore_id_that_is_not_an_id_is_refused_by_name(function_env: dict[str, str]) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        lambda_handler({**load_event("direct-invoke.json"), "restore_id": "a/b"}, LocalContext())
    assert raised.value.field == "restore_id"


def test_xray_subsegments_are_opt_in(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the X-Ray SDK switched on (with Powertools' own switch keeping it from sending anything)
    monkeypatch.setenv("XRAY_SDK_TRACING", "true")
    # When an invoke runs, Then it works the same, traced
    assert lambda_handler(load_event("direct-invoke.json"), LocalContext())["total"] == 35
    assert "aws_xray_sdk" in sys.modules


def test_the_handler_module_loads_no_xray_sdk_boto3_or_http_machinery() -> None:
    # A fresh interpreter, as a cold start: only what every invocation needs is imported
    # (Powertools imports the bare botocore package for its user agent: 1 ms, no client machinery)
    heavy = ("aws_xray_sdk", "boto3", "botocore.client", "restore_watch.http_api")
    probe = f"import sys, restore_watch.app; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("event", [[], "text", None, 7, {"version": "2.0"}])
def test_events_that_are_not_objects_are_refused_by_name(function_env: dict[str, str], event: Any) -> None:
    with pytest.raises(UnknownEventError):
        lambda_handler(event, LocalContext())


def test_dcs_down_is_502_over_http_and_a_named_error_elsewhere(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DCS's endpoint refusing connections
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("DCS_ENDPOINT", f"http://127.0.0.1:{closed}")
    # Then HTTP callers get 502 without the address, and a schedule's invoke raises for Lambda to retry
    status, body = http()
    assert status == 502
    assert body["error"]["code"] == "dcs_unavailable"
    assert str(closed) not in json.dumps(body)
    with pytest.raises(DcsUnavailableError, match="could not reach DCS"):
        lambda_handler(load_event("schedule-scheduler.json"), LocalContext())
