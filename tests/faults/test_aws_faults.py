"""SQS, DynamoDB and Secrets Manager failing under whole invocations, over moto's server.

The function's own boto3 clients meet the faults over HTTP (``tests.faults.aws_faults``): botocore's
retries, the publisher's resends of ``Failed`` entries and the ledger's claim/confirm all run
as they would in AWS. Invariant as for DCS faults: a run either forwards every failed restore of
its window once, or fails with a named error and leaves nothing doubled; the retry completes it.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from common.errors import ConfigurationError, SecretUnavailableError
from common.timing import Timing
from dcs_restores import RestoreRecord, RestoreStatus
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_SK
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler
from restore_watch.budget import Budget
from restore_watch.forwarding import FailedRestore, ForwardingError, LedgerUnavailableError, build_forwarder

from ..support import free_port, fresh_container, function_logs, load_event, use_moto_credentials
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
    # And the claims were given back: the retry sends them all at once, not after their lease
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
    # Given DynamoDB throttling six marks in a row: more than botocore's three attempts at one
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


class SilentEndpoint:
    """A loopback endpoint that never answers. The kernel takes each connection and request; nothing reads
    them until the test collects them, once the client is done with them (it closes every connection whose
    read timed out), so what was sent is all there to count, however slowly this machine runs."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def received(self) -> bytes:
        """Every byte sent so far, each connection read to its end."""
        self.server.setblocking(False)
        received = bytearray()
        while True:
            try:
                connection, _ = self.server.accept()
            except BlockingIOError:
                return bytes(received)
            with connection:
                connection.settimeout(10.0)  # the client has closed it: its end comes at once
                while data := connection.recv(65536):
                    received += data


@pytest.fixture
def silent_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentEndpoint]:
    endpoint = SilentEndpoint()
    use_moto_credentials(monkeypatch, endpoint.url)
    yield endpoint
    endpoint.server.close()


def test_a_ledger_call_to_an_endpoint_that_never_answers_makes_the_attempts_timing_allows(
    silent_endpoint: SilentEndpoint,
) -> None:
    # Given the function's clients, built from a Timing with short timeouts, and a DynamoDB that never answers
    timing = Timing(aws_connect_timeout=0.5, aws_read_timeout=0.3)
    forwarder = build_forwarder(f"{silent_endpoint.url}/123456789012/q", "ledger", timedelta(days=1), timing)
    record = RestoreRecord(restore_id="r-1", status=RestoreStatus.FAILED)
    # When one restore is claimed
    started = time.monotonic()
    with pytest.raises(LedgerUnavailableError, match="ReadTimeoutError"):
        forwarder.forward([FailedRestore("proj", "inst", record, datetime.now(UTC))], Budget.of(60.0, timing))
    spent = time.monotonic() - started
    # Then botocore made as many attempts as Timing says (the first included), within the worst case it computes
    assert silent_endpoint.received().count(b"POST ") == timing.aws_max_attempts
    assert timing.aws_max_attempts * timing.aws_read_timeout <= spent <= timing.aws_call_worst()


def test_a_send_to_an_sqs_that_never_answers_is_one_attempt_a_try_and_the_retries_are_marked(
    silent_endpoint: SilentEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the function's clients, built from a Timing with short timeouts, and an SQS that never answers
    timing = Timing(aws_connect_timeout=0.5, aws_read_timeout=0.3, send_attempts=3)
    forwarder = build_forwarder(f"{silent_endpoint.url}/123456789012/q", None, timedelta(days=1), timing)
    record = RestoreRecord(restore_id="r-1", status=RestoreStatus.FAILED)
    # When one batch is sent
    with pytest.raises(ForwardingError) as raised:
        forwarder.forward([FailedRestore("proj", "inst", record, datetime.now(UTC))], Budget.of(60.0, timing))
    # Then each of the publisher's tries was one POST: botocore repeated none of them
    received = silent_endpoint.received()
    assert received.count(b"POST ") == timing.send_attempts
    # And since each may have been stored, every try after the first carried the mark
    assert received.count(b"possible_duplicate") == timing.send_attempts - 1
    assert raised.value.unsent == ["r-1"]
    assert "may be in the queue already" in str(raised.value)
    lost = [r for r in caplog.records if r.getMessage().startswith("SendMessageBatch answer lost")]
    assert [(r.__dict__["code"], r.__dict__["restore_ids"]) for r in lost] == [("ReadTimeoutError", ["r-1"])] * 3


def test_a_send_to_an_endpoint_that_refuses_connections_is_retried_unmarked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an SQS endpoint where nothing listens: the connection is refused before any request leaves
    endpoint = f"http://127.0.0.1:{free_port()}"
    use_moto_credentials(monkeypatch, endpoint)
    timing = Timing(aws_connect_timeout=0.5, aws_read_timeout=0.3, send_attempts=3)
    forwarder = build_forwarder(f"{endpoint}/123456789012/q", None, timedelta(days=1), timing)
    record = RestoreRecord(restore_id="r-1", status=RestoreStatus.FAILED)
    # When one batch is sent
    with pytest.raises(ForwardingError) as raised:
        forwarder.forward([FailedRestore("proj", "inst", record, datetime.now(UTC))], Budget.of(60.0, timing))
    # Then every try failed as a plain failure: SQS cannot hold what never reached it
    assert "may be in the queue already" not in str(raised.value)
    assert "EndpointConnectionError" in str(raised.value)
    failures = [r for r in caplog.records if r.getMessage().startswith("SendMessageBatch")]
    assert [(r.getMessage(), r.__dict__["code"]) for r in failures] == [
        ("SendMessageBatch failed", "EndpointConnectionError")
    ] * timing.send_attempts


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Everything the function wrote: its JSON log lines (ours at DEBUG; botocore's stay at INFO, its
    DEBUG wire dumps are not ours to police) and anything else on stdout and stderr."""
    with function_logs(logging.DEBUG) as lines:

        def text() -> str:
            output = capsys.readouterr()
            return output.out + output.err + json.dumps(lines())

        yield text


def assert_failure_logged_without_credentials(logged: str, error: str) -> None:
    assert "invocation failed" in logged  # the capture did see the function's own log
    assert error in logged
    for secret in (DEFAULT_AK, DEFAULT_SK):
        assert secret not in logged


@pytest.mark.usefixtures("function_env")
def test_secrets_manager_down_is_a_retryable_error_that_logs_no_credentials(
    aws: Aws, logged: Callable[[], str]
) -> None:
    # Given GetSecretValue failing (503) through botocore's retries
    aws.faults.down.add("GetSecretValue")
    # Then the invocation fails with a configuration error that asks to be retried, naming the setting
    with pytest.raises(SecretUnavailableError, match="ServiceUnavailable") as raised:
        run()
    assert raised.value.variable == "DCS_CREDENTIALS_SECRET"
    assert_failure_logged_without_credentials(logged(), "SecretUnavailableError")
    # And over HTTP it is a 503, not a 500
    fresh_container()
    answer = lambda_handler(load_event("http-get-window.json"), LocalContext())
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"]["code"] == "secret_unavailable"


@pytest.mark.usefixtures("function_env")
def test_secrets_manager_unreachable_is_a_retryable_error_that_logs_no_credentials(
    monkeypatch: pytest.MonkeyPatch, logged: Callable[[], str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(SecretUnavailableError, match="could not be read now") as raised:
        run()
    assert raised.value.variable == "DCS_CREDENTIALS_SECRET"
    assert_failure_logged_without_credentials(logged(), "SecretUnavailableError")


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
    aws: Aws, secret: str, logged: Callable[[], str]
) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=aws.secret_name, SecretString=secret)
    with pytest.raises(ConfigurationError) as raised:
        run()
    assert type(raised.value) is ConfigurationError  # the secret was read: nothing to retry
    assert raised.value.variable == "DCS_CREDENTIALS_SECRET"
    text = logged() + str(raised.value) + repr(raised.value)
    assert_failure_logged_without_credentials(text, "ConfigurationError")
    assert secret not in text
