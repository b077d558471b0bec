"""Helpers shared by the tests (Lambda's context object is the local kit's ``devkit.invoke.LocalContext``)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dcs_restores import RestoreQuery
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK
from devkit.local import create_ledger_table, receive_all

WINDOW = {"begin_time": "20240101000000", "end_time": "20241231235959"}


class RecordingSleep:
    """Stands in for time.sleep: the only thing a test patches is the passing of time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def window_query(**fields: Any) -> RestoreQuery:
    return RestoreQuery.of(**{"project_id": DEFAULT_PROJECT_ID, "instance_id": DEFAULT_INSTANCE_ID, **WINDOW, **fields})


@dataclass(frozen=True)
class AwsResources:
    """The AWS side of the function, created in moto."""

    queue_url: str
    table_name: str
    secret_name: str

    @classmethod
    def create(cls, *, fifo: bool = False) -> AwsResources:
        import boto3

        sqs = boto3.client("sqs")
        if fifo:
            queue_url = sqs.create_queue(QueueName="failed-restores.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        else:
            queue_url = sqs.create_queue(QueueName="failed-restores")["QueueUrl"]
        table = "restore-ledger"
        if table not in boto3.client("dynamodb").list_tables()["TableNames"]:
            create_ledger_table(table)
        secret = "dcs-restore-watch/credentials"
        secrets = boto3.client("secretsmanager")
        if not secrets.list_secrets(Filters=[{"Key": "name", "Values": [secret]}])["SecretList"]:
            secrets.create_secret(Name=secret, SecretString=json.dumps({"ak": DEFAULT_AK, "sk": DEFAULT_SK}))
        return cls(queue_url, table, secret)

    def put_secret(self, *, ak: str, sk: str) -> None:
        """Rotate the credentials secret to these keys."""
        import boto3

        secret = json.dumps({"ak": ak, "sk": sk})
        boto3.client("secretsmanager").put_secret_value(SecretId=self.secret_name, SecretString=secret)

    def messages(self) -> list[dict[str, Any]]:
        """Every message in the queue, received back from SQS (and left there)."""
        return receive_all(self.queue_url, visible_again=True)


def use_moto_credentials(monkeypatch: pytest.MonkeyPatch, endpoint: str | None = None) -> None:
    """boto3 (the tests' and the function's) with moto's dummy keys; at moto's server when ``endpoint`` is given."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    if endpoint is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


def use_function_environment(
    monkeypatch: pytest.MonkeyPatch, dcs_url: str, queue_url: str, table: str, secret: str, **extra: str
) -> dict[str, str]:
    """Point the function at these peers, as the template's environment would, in a fresh container."""
    env = {
        "DCS_ENDPOINT": dcs_url,
        "DCS_PROJECT_ID": DEFAULT_PROJECT_ID,
        "DCS_CREDENTIALS_SECRET": secret,
        "DCS_INSTANCE_ID": DEFAULT_INSTANCE_ID,
        "FAILED_RESTORES_QUEUE_URL": queue_url,
        "RESTORE_LEDGER_TABLE": table,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_SERVICE_NAME": "dcs-restore-watch",
        **extra,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("DCS_AK", "DCS_SK"):  # the secret is the only source of credentials here
        monkeypatch.delenv(name, raising=False)
    fresh_container()
    return env


def fresh_container() -> None:
    """Forget what a warm Lambda container would keep: the runtime and cached secrets."""
    from aws_lambda_powertools.utilities import parameters

    from discover_instances.discovery import instance_discovery
    from restore_watch.container import restore_watch

    restore_watch.cache_clear()
    instance_discovery.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


@contextmanager
def function_logs(level: int = logging.INFO) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The function's log lines as CloudWatch receives them: one JSON object a line, parsed.

    While the block runs, the Powertools handler that every logger of ours shares writes to a
    buffer, and our loggers log at ``level``; metrics (EMF) go elsewhere.
    """
    from common.observability import OUR_LOGGERS, logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous_stream = handler.setStream(buffer)
    previous_levels = {name: logging.getLogger(name).level for name in OUR_LOGGERS}
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(level)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        handler.setStream(previous_stream)
        for name, previous in previous_levels.items():
            logging.getLogger(name).setLevel(previous)


ROOT = Path(__file__).parent.parent
EVENTS = ROOT / "events"
CLI = [sys.executable, "-m", "devkit"]  # the dcs-restore-watch command


def clean_environment() -> dict[str, str]:
    """No cloud settings at all (the embedded default must carry the run), and not inside a make."""
    prefixes = ("DCS_", "AWS_", "FAILED_RESTORES_", "RESTORE_LEDGER_", "POWERTOOLS_", "MAKE", "MFLAGS")
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def lambda_bytes(result: Any) -> int:
    """The bytes Lambda's python3.13 runtime returns for ``result``: json.dumps, UTF-8, no ASCII escaping."""
    return len(json.dumps(result, ensure_ascii=False).encode())
