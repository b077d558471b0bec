"""Validate + normalise one 1,000-record page: our pydantic path against the official SDK's deserializer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkdcs.v2 import DcsClient

from benchmarks.timing import Row, median_seconds, verdict
from dcs_restores.models import RESTORES, RestoreRecord
from devkit.seed import generate_records

RECORDS = 1000
TARGET = 0.5


@dataclass(frozen=True)
class _Response:
    """Just what the SDK's response handler reads of a ``requests.Response``."""

    content: bytes
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    @property
    def text(self) -> str:
        return self.content.decode()


def ours(body: bytes) -> list[RestoreRecord]:
    return RESTORES.pages.parse(body, 0).items  # validated straight into the normalised RestoreRecord


def official_sdk() -> Any:
    """A DcsClient that never touches the network: only its response handling is used."""
    return (
        DcsClient.new_builder()
        .with_credentials(BasicCredentials("benchmark-ak", "benchmark-sk", "benchmark-project"))
        .with_endpoints(["https://127.0.0.1"])
        .build()
    )


def run(repeats: int) -> list[Row]:
    body = json.dumps({"restore_record_response": generate_records(RECORDS), "total_num": RECORDS}).encode()
    sdk, response = official_sdk(), _Response(body)

    def sdk_path() -> Any:
        # What DcsClient.list_restore_records does with a 200 once requests has it: JSON, then models.
        return sdk.sync_response_handler(response, "ListRestoreRecordsResponse", [], None)

    if len(ours(body)) != RECORDS or len(sdk_path().restore_record_response) != RECORDS:
        raise RuntimeError("a parser lost records: the timings would mean nothing")
    our_time, sdk_time, floor = median_seconds(lambda: ours(body), sdk_path, lambda: json.loads(body), repeats=repeats)
    name = f"validate + normalise {RECORDS:,} records"
    return [
        Row(
            name,
            our_time,
            sdk_time,
            f"reference: official SDK into ListRestoreRecordsResponse; {verdict(our_time / sdk_time, TARGET)}",
        ),
        Row(f"{name}, vs floor", our_time, floor, "reference: bare json.loads of the same body"),
    ]
