"""A whole 10,000-record window over HTTP with 50 ms latency: concurrent paging against sequential.

The emulator runs in its own process (the project's ``python -m devkit emulator``), as DCS would
on its own machine: in-process, its request handling would compete with the client for the GIL.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkdcs.v2 import DcsClient, ListRestoreRecordsRequest

from benchmarks.timing import Row, median_seconds, verdict
from dcs_restores import Credentials, DcsRestoresClient, RestoreQuery
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK

RECORDS = 10_000
LATENCY = 0.05
PAGE = 1000
BEGIN, END = "20240101000000", "20250101000000"  # the seeded records span about 49 days of 2024
TARGET = 0.3


@contextmanager
def emulator(records: int, latency: float, options: Sequence[str] = ()) -> Iterator[str]:
    """The emulator's URL while it runs in a child process; ``options`` go to its command line."""
    command = [
        sys.executable,
        "-m",
        "devkit",
        "emulator",
        "--records",
        str(records),
        "--latency-ms",
        str(latency * 1000),
        *options,
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            first = process.stdout.readline() if process.stdout else ""
            if not first.startswith("DCS emulator listening on "):
                raise RuntimeError(f"the emulator did not start: {first!r}")
            yield first.split()[-1]
        finally:
            process.terminate()
            process.wait(timeout=10)


def read_window(client: DcsRestoresClient, query: RestoreQuery) -> None:
    result = client.list_restores(query)
    if len(result.records) != RECORDS or result.truncated or result.invalid_records:
        raise RuntimeError(f"the client read {len(result.records)} of {RECORDS} records")


def sdk_read_window(client: Any) -> None:
    """The official SDK, page after page, as its users would page a window."""
    records: list[Any] = []
    offset, total = 0, 1
    while offset < total:
        request = ListRestoreRecordsRequest(
            instance_id=DEFAULT_INSTANCE_ID, begin_time=BEGIN, end_time=END, offset=offset, limit=PAGE
        )
        response = client.list_restore_records(request)
        records.extend(response.restore_record_response or [])
        total, offset = response.total_num or 0, offset + PAGE
    if len(records) != RECORDS:
        raise RuntimeError(f"the official SDK read {len(records)} of {RECORDS} records")


def run(repeats: int) -> list[Row]:
    query = RestoreQuery.of(
        project_id=DEFAULT_PROJECT_ID, instance_id=DEFAULT_INSTANCE_ID, begin_time=BEGIN, end_time=END
    )
    credentials = Credentials(DEFAULT_AK, DEFAULT_SK)
    with (
        emulator(RECORDS, LATENCY) as url,
        DcsRestoresClient(url, credentials) as concurrent,
        DcsRestoresClient(url, credentials, max_workers=1) as sequential,
    ):
        sdk = (
            DcsClient.new_builder()
            .with_credentials(BasicCredentials(DEFAULT_AK, DEFAULT_SK, DEFAULT_PROJECT_ID))
            .with_endpoints([url])
            .build()
        )
        try:
            ours, one_by_one, official = median_seconds(
                lambda: read_window(concurrent, query),
                lambda: read_window(sequential, query),
                lambda: sdk_read_window(sdk),
                repeats=repeats,
            )
        finally:
            sdk.close()
    name = f"{RECORDS:,}-record window, {LATENCY * 1000:.0f} ms latency"
    return [
        Row(name, ours, one_by_one, f"reference: same client, max_workers=1; {verdict(ours / one_by_one, TARGET)}"),
        Row(
            f"{name}, vs official SDK",
            ours,
            official,
            f"reference: official DcsClient paging sequentially, limit={PAGE}",
        ),
        Row(f"{name}, vs floor", ours, 2 * LATENCY, "reference: two round trips (2 x 50 ms)"),
    ]
