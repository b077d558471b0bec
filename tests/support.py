"""Helpers shared by the tests (Lambda's context object is the local kit's ``devkit.invoke.LocalContext``)."""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def messages(self) -> list[dict[str, Any]]:
        """Every message in the queue, received back from SQS (and left there)."""
        return receive_all(self.queue_url)


def fresh_container() -> None:
    """Forget what a warm Lambda container would keep: the runtime and cached secrets."""
    from aws_lambda_powertools.utilities import parameters

    from restore_watch import app

    app._runtime = None
    parameters.clear_caches()  # type: ignore[no-untyped-call]


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
