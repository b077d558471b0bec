"""SQS, DynamoDB and Secrets Manager failing under whole invocations, over moto's server.

The function's own boto3 clients meet the faults over HTTP (``tests.faults.aws_faults``): botocore's
retries, the publisher's resends of ``Failed`` entries and the ledger's claim/confirm all run
as they would in AWS. Invariant as for DCS faults: a run either forwards every failed restore of
its window once, or fails with a named error and leaves nothing doubled; the retry completes it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import boto3
import pytest

from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_SK
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler
from restore_watch.forwarding import ForwardingError, LedgerUnavailableError
from restore_watch.settings import ConfigurationError, SecretUnavailableError

from ..support import free_port, fresh_container, load_event
from .conftest import FAILED, Aws, failed_ids

EVENT = {"instance_id": DEFAULT_INSTANCE_ID, "begin_time": "20240101000000", "end_time": "20240131000000"}


def run() -> dict[str, Any]:
    payload: dict[str, Any] = lambda_handler(dict(EVENT), LocalContext())
    return payload


def retry_when_well(aws: Aws, expected: list[str]) -> None:
    """Lambda's retry once AWS is well again: each failed restore is then in the queue exactly once."""
    aws.faults.clear()
    fresh_container()
    payload = run()
    assert aws.forwarded_ids() == expected
    assert payload["forwarded"]["queued"] + payload["forwarded"]["already_forwarded"] == len(expected)


def assert_nothing_doubled(aws: Aws, expected: list[str]) -> None:
    forwarded = aws.forwarded_ids()
    assert set(forwarded) <= set(expected)
    assert max(Counter(forwarded).values(), default=1) == 1


@pytest.mark.usefixtures("function_env")
def test_batch_entries_reported_failed_are_resent(aws: Aws, records: list[dict[str, Any]]) -> None:
    # Given SQS refusing some entries of every other batch
    aws.faults.partial_rate = 0.5
    payload = run()
    # Then the refused entries were resent within the run, and each restore is queued once
    assert aws.faults.injected["SendMessageBatch:Failed entries"] > 0
    assert payload["forwarded"]["queued"] == FAILED
    assert aws.forwarded_ids() == failed_ids(records)


@pytest.mark.usefixtures("function_env")
def test_batches_that_keep_failing_fail_the_run_and_release_their_claims(
    aws: Aws, records: list[dict[str, Any]]
) -> None:
    # Given SendMessageBatch down
    aws.faults.down.add("SendMessageBatch")
    with pytest.raises(ForwardingError) as raised:
        run()
    # Then the run names every restore it could not send, and queued none
    assert sorted(raised.value.unsent) == failed_ids(records)
    assert aws.forwarded_ids() == []
    # And the claims were given back: the retry sends them all at once, not after the 5-minute lease
    retry_when_well(aws, failed_ids(records))


@pytest.mark.usefixtures("function_env")
def test_throttled_sends_are_retried_within_the_run(aws: Aws, records: list[dict[str, Any]]) -> None:
    aws.faults.script.extend([("SendMessageBatch", "ThrottlingException")] * 4)
    run()
    assert aws.faults.injected["SendMessageBatch:ThrottlingException"] == 4
    assert aws.forwarded_ids() == failed_ids(records)


@pytest.mark.usefixtures("function_env")
def test_an_unavailable_ledger_fails_the_run_before_anything_is_sent(aws: Aws, records: list[dict[str, Any]]) -> None:
    aws.faults.down.add("PutItem")
    with pytest.raises(LedgerUnavailableError, match="ServiceUnavailable"):
        run()
    assert aws.forwarded_ids() == []
    retry_when_well(aws, failed_ids(records))


@pytest.mark.usefixtures("function_env")
def test_a_ledger_that_throttles_its_marks_for_a_while_leaves_nothing_claimed(
    aws: Aws, records: list[dict[str, Any]]
) -> None:
    # Given DynamoDB throttling six marks in a row: more than botocore's three attempts
    aws.faults.script.extend([("UpdateItem", "ProvisionedThroughputExceededException")] * 6)
    assert run()["forwarded"]["queued"] == FAILED
    assert aws.faults.injected["UpdateItem:ProvisionedThroughputExceededException"] == 6
    # Then every restore was marked: a second run counts them all as already forwarded
    assert run()["forwarded"]["already_forwarded"] == FAILED
    assert aws.forwarded_ids() == failed_ids(records)


@pytest.mark.usefixtures("function_env")
def test_random_faults_everywhere_converge_to_each_restore_once(aws: Aws, records: list[dict[str, Any]]) -> None:
    # Given a third of the function's AWS calls failing, and SQS refusing entries of half the batches
    aws.faults.rate, aws.faults.partial_rate = 0.3, 0.5
    outcomes = []
    for _ in range(10):  # Lambda's retries, then the on-failure queue redriven: bounded here
        fresh_container()
        try:
            run()
        except (ForwardingError, ConfigurationError) as error:
            outcomes.append(type(error).__name__)
            assert_nothing_doubled(aws, failed_ids(records))
        else:
            outcomes.append("ok")
            break
    assert outcomes[-1] == "ok", outcomes
    assert sum(aws.faults.injected.values()) > 10
    assert aws.forwarded_ids() == failed_ids(records)


def logged_text(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    output = capsys.readouterr()
    return output.out + output.err + "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


@pytest.fixture
def verbose_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Our loggers at DEBUG (botocore's stay at INFO: its DEBUG wire dumps are not ours to police)."""
    caplog.set_level(logging.INFO)
    for name in ("dcs_restores", "restore_watch"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def assert_failure_logged_without_credentials(logged: str, error: str) -> None:
    assert "invocation failed" in logged  # the capture did see the function's own log
    assert error in logged
    for secret in (DEFAULT_AK, DEFAULT_SK):
        assert secret not in logged


@pytest.mark.usefixtures("function_env")
def test_secrets_manager_down_is_a_retryable_error_that_logs_no_credentials(
    aws: Aws, verbose_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given GetSecretValue failing (503) through botocore's retries
    aws.faults.down.add("GetSecretValue")
    # Then the invocation fails with a configuration error that asks to be retried, naming the setting
    with pytest.raises(SecretUnavailableError, match="ServiceUnavailable") as raised:
        run()
    assert raised.value.variable == "DCS_CREDENTIALS_SECRET"
    assert_failure_logged_without_credentials(logged_text(capsys, verbose_logs), "SecretUnavailableError")
    # And over HTTP it is a 503, not a 500
    fresh_container()
    answer = lambda_handler(load_event("http-get-window.json"), LocalContext())
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"]["code"] == "secret_unavailable"


@pytest.mark.usefixtures("function_env")
def test_secrets_manager_unreachable_is_a_retryable_error_that_logs_no_credentials(
    monkeypatch: pytest.MonkeyPatch, verbose_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(SecretUnavailableError, match="could not be read now") as raised:
        run()
    assert raised.value.variable == "DCS_CREDENTIALS_SECRET"
    assert_failure_logged_without_credentials(logged_text(capsys, verbose_logs), "SecretUnavailableError")


@pytest.mark.usefixtures("function_env")
def test_a_secret_that_does_not_exist_is_a_configuration_error_not_retried(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCS_CREDENTIALS_SECRET", "no-such-secret")
    with pytest.raises(ConfigurationError, match="ResourceNotFoundException") as raised:
        run()
    assert not isinstance(raised.value, SecretUnavailableError)


@pytest.mark.usefixtures("function_env")
def test_a_throttled_secret_read_is_retried(aws: Aws) -> None:
    aws.faults.script.extend([("GetSecretValue", "ThrottlingException")] * 2)
    assert run()["total"] == 2500


@pytest.mark.parametrize(
    "secret",
    [
        "not json",
        json.dumps({"ak": DEFAULT_AK}),
        json.dumps({"ak": DEFAULT_AK, "sk": 12345}),
        json.dumps([DEFAULT_AK, DEFAULT_SK]),
        json.dumps({"ak": DEFAULT_AK, "sk": ""}),
        json.dumps({"access_key": DEFAULT_AK, "secret_key": DEFAULT_SK}),
    ],
)
@pytest.mark.usefixtures("function_env")
def test_a_malformed_secret_is_a_configuration_error_that_logs_no_part_of_it(
    aws: Aws, secret: str, verbose_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=aws.secret_name, SecretString=secret)
    with pytest.raises(ConfigurationError) as raised:
        run()
    assert type(raised.value) is ConfigurationError  # the secret was read: nothing to retry
    assert raised.value.variable == "DCS_CREDENTIALS_SECRET"
    logged = logged_text(capsys, verbose_logs) + str(raised.value) + repr(raised.value)
    assert_failure_logged_without_credentials(logged, "ConfigurationError")
    assert secret not in logged
