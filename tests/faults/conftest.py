"""The stage for fault tests: a DCS emulator with a multi-page window, and moto's server with faults.

AWS is moto's server on loopback (``tests.faults.aws_faults``), reached over real HTTP by the
function's own boto3 clients, so botocore's retries and the forwarder's meet faults exactly as
AWS would send them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devkit.emulator import DEFAULT_AK, DEFAULT_SK, Emulator
from devkit.local import create_ledger_table, receive_all
from devkit.seed import generate_records

from ..support import fresh_container, use_function_environment, use_moto_credentials
from .aws_faults import AwsFaults, faulty_moto_server

RECORDS = 2500  # three pages of 1,000
FAILED_EVERY = 100  # 25 failed restores: three batches, and few enough for moto's O(n) SQS
FAILED = RECORDS // FAILED_EVERY


@dataclass
class Aws:
    endpoint: str
    faults: AwsFaults
    queue_url: str
    table_name: str
    secret_name: str

    def forwarded_ids(self) -> list[str]:
        """Restore IDs of every message now in the queue (left there), one entry per message."""
        return sorted(
            json.loads(message["Body"])["restore_id"] for message in receive_all(self.queue_url, visible_again=True)
        )


def failed_ids(records: list[dict[str, Any]]) -> list[str]:
    """The restore IDs of the failed restores among ``records`` (as DCS sends them), sorted."""
    return sorted(record["restore_id"] for record in records if record.get("status") == "failed")


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return generate_records(RECORDS, failed_every=FAILED_EVERY)


@pytest.fixture
def dcs(records: list[dict[str, Any]]) -> Iterator[Emulator]:
    emulator = Emulator(records)
    with emulator:
        yield emulator


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """moto's server with fault injection; boto3 (the tests' and the function's) pointed at it."""
    import boto3

    with faulty_moto_server() as (endpoint, faults):
        use_moto_credentials(monkeypatch, endpoint)
        # moto's state is per process: names unique to this test keep tests apart
        suffix = uuid.uuid4().hex[:8]
        queue_url = boto3.client("sqs").create_queue(QueueName=f"failed-restores-{suffix}")["QueueUrl"]
        table = f"restore-ledger-{suffix}"
        create_ledger_table(table)
        secret = f"dcs-restore-watch/credentials-{suffix}"
        boto3.client("secretsmanager").create_secret(
            Name=secret, SecretString=json.dumps({"ak": DEFAULT_AK, "sk": DEFAULT_SK})
        )
        yield Aws(endpoint, faults, queue_url, table, secret)


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, dcs: Emulator, aws: Aws) -> Iterator[dict[str, str]]:
    yield use_function_environment(
        monkeypatch, dcs.url, aws.queue_url, aws.table_name, aws.secret_name, POWERTOOLS_METRICS_DISABLED="true"
    )
    fresh_container()
