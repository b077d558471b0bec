"""Peak memory (RSS) of ``dcs-restore-watch invoke`` over a 10,000- and a 100,000-record window.

The measured process runs the invoke and nothing else: DCS is the emulator in its own process,
SQS and DynamoDB are moto's server in this one, both reached over loopback as real services
would be. Its stdout (the whole payload) goes to a pipe that is read and counted here, as a
caller would read it.

Peak RSS is ``ru_maxrss`` from ``os.wait4``. Linux carries a process's high-water mark across
``exec``, so a child forked straight from this process (moto and all) would report at least this
process's RSS: the invoke is forked from a small launcher instead, which waits for it and writes
its ``ru_maxrss`` (KiB) to a file.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from unittest import mock

from benchmarks.timing import MIB, Row, goal_verdict
from benchmarks.window import emulator
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK
from devkit.local import moto_server

GOALS = ((10_000, 128), (100_000, 256))  # records in the window, peak RSS goal in MiB
FAILED_EVERY = 1000  # few failed restores: moto's SQS scans the whole queue on every send
STEP_SECONDS = 20  # 100,000 records span 23 days, within MAX_WINDOW_DAYS' default of 31
BEGIN, END, DAYS = "20240101000000", "20240131000000", 30
AWS = {
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
# Run with ``python -c LAUNCHER REPORT_FILE COMMAND...``: the launcher's own RSS (a bare
# interpreter) is the floor of what it can report, far below any invoke's.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""
_SUMMARY = re.compile(r": (\d+) records \(.*\), (\d+) invalid; failed restores queued (\d+), already forwarded (\d+)")


@dataclass(frozen=True)
class Invoked:
    peak_rss: int  # bytes
    payload_bytes: int
    records: int
    queued: int


def fresh_queue_and_ledger(endpoint: str, name: str) -> str:
    """A new queue and ledger table for one run, so every run forwards the same restores."""
    import boto3

    from devkit.local import create_ledger_table

    with mock.patch.dict(os.environ, {**AWS, "AWS_ENDPOINT_URL": endpoint}):
        create_ledger_table(name)
        queue_url: str = boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    return queue_url


def command() -> list[str]:
    script = Path(sys.executable).with_name("dcs-restore-watch")  # the console script of this environment
    return [str(script)] if script.exists() else [sys.executable, "-m", "devkit"]


def invoke(event_file: Path, environment: dict[str, str]) -> Invoked:
    """Run ``dcs-restore-watch invoke`` as a child and return its peak RSS and what it reported."""
    counted = [0]
    errors: list[bytes] = []

    def drain(stream: IO[bytes]) -> None:
        while chunk := stream.read(1 << 16):
            counted[0] += len(chunk)

    report = event_file.with_name("peak-rss")
    launch = [sys.executable, "-c", LAUNCHER, str(report), *command(), "invoke", str(event_file)]
    with subprocess.Popen(launch, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        readers = [
            threading.Thread(target=drain, args=(process.stdout,)),
            threading.Thread(target=lambda stream=process.stderr: errors.append(stream.read())),
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
    stderr = b"".join(errors).decode(errors="replace")
    summary = _SUMMARY.search(stderr)
    if process.returncode != 0 or summary is None:
        raise RuntimeError(f"the invoke failed ({process.returncode}): {stderr[-2000:]}")
    records, invalid, queued, already = (int(group) for group in summary.groups())
    if invalid or already:
        raise RuntimeError(f"unexpected: {invalid} invalid records, {already} already forwarded")
    peak = int(report.read_text(encoding="ascii")) * 1024  # ru_maxrss is KiB on Linux
    return Invoked(peak, counted[0], records, queued)


def run(repeats: int) -> list[Row]:
    rows: list[Row] = []
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as folder:
        event_file = Path(folder) / "event.json"
        event = {"instance_id": DEFAULT_INSTANCE_ID, "begin_time": BEGIN, "end_time": END}
        event_file.write_text(json.dumps(event), encoding="utf-8")
        for records, goal in GOALS:
            options = ["--failed-every", str(FAILED_EVERY), "--step-seconds", str(STEP_SECONDS)]
            with emulator(records, 0.0, options) as url:
                runs: list[Invoked] = []
                for attempt in range(repeats):
                    queue_url = fresh_queue_and_ledger(endpoint, f"bench-{records}-{attempt}")
                    environment = {
                        name: value
                        for name, value in os.environ.items()
                        if name not in ("DCS_CREDENTIALS_SECRET", "AWS_SESSION_TOKEN", "AWS_PROFILE")
                    }
                    environment.update(
                        AWS,
                        AWS_ENDPOINT_URL=endpoint,
                        DCS_ENDPOINT=url,
                        DCS_PROJECT_ID=DEFAULT_PROJECT_ID,
                        DCS_AK=DEFAULT_AK,
                        DCS_SK=DEFAULT_SK,
                        FAILED_RESTORES_QUEUE_URL=queue_url,
                        RESTORE_LEDGER_TABLE=f"bench-{records}-{attempt}",
                        MAX_RECORDS=str(records),
                    )
                    runs.append(invoke(event_file, environment))
            if any(done.records != records or done.queued != records // FAILED_EVERY for done in runs):
                raise RuntimeError(f"an invoke did not read {records} records and forward {records // FAILED_EVERY}")
            peak = statistics.median(done.peak_rss for done in runs)
            rows.append(
                Row(
                    f"peak RSS of `invoke`, {records:,}-record window",
                    peak,
                    goal * MIB,
                    f"reference: the goal; a direct invoke over {DAYS} days (records {STEP_SECONDS} s apart), "
                    f"DCS and moto in other processes; {records // FAILED_EVERY} failed restores forwarded with the "
                    f"ledger; stdout ({runs[0].payload_bytes / 1e6:.0f} MB) drained through a pipe; "
                    f"{goal_verdict(peak, goal * MIB, f'{goal} MiB')}",
                    unit="MiB",
                )
            )
    return rows
