"""Forwarding 1,000 failed restores to SQS (moto): calls made and wall time."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.timing import Row
from common.timing import Timing
from dcs_restores import RestoreRecord, RestoreStatus
from restore_watch.budget import Budget
from restore_watch.forwarding import FailedRestore, FailedRestoreForwarder, NoLedger
from restore_watch.forwarding.publisher import QueuePublisher

RESTORES = 1000


def run(repeats: int) -> list[Row]:
    import boto3
    from moto import mock_aws

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")
    now = datetime.now(UTC)
    restores = [
        FailedRestore("proj", "inst", RestoreRecord(restore_id=f"r-{n:04}", status=RestoreStatus.FAILED), now)
        for n in range(RESTORES)
    ]
    with mock_aws():
        sqs = boto3.client("sqs")
        calls: list[Any] = []
        sqs.meta.events.register("before-call.sqs.SendMessageBatch", lambda **_: calls.append(1))
        queue = sqs.create_queue(QueueName="benchmark")["QueueUrl"]
        forwarder = FailedRestoreForwarder(QueuePublisher(sqs, queue), NoLedger())
        start = time.perf_counter()
        outcome = forwarder.forward(restores, Budget.of(900.0, Timing()))  # time enough: moto is the slow part
        spent = time.perf_counter() - start
    if outcome.queued != RESTORES:
        raise RuntimeError(f"forwarded {outcome.queued} of {RESTORES}")
    return [
        Row(
            f"forward {RESTORES:,} failed restores (moto, no ledger)",
            spent,
            spent,
            f"{len(calls)} SendMessageBatch calls (goal: exactly {RESTORES // 10}); "
            "the time is moto's, whose SQS scans the whole queue on every send",
        )
    ]
