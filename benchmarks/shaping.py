"""Fitting a payload to the response limit, against turning it whole into what Lambda returns."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from pydantic import TypeAdapter

from benchmarks.timing import Row, median_seconds
from dcs_restores import RestoreQuery, RestoreRecord, RestoreResult
from devkit.emulator import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID
from devkit.seed import generate_records
from restore_watch.forwarding import Forwarded
from restore_watch.payload import RestorePayload
from restore_watch.shaping import LAMBDA_RESULT, ResponseLimit, fit

SIZES = (10_000, 100_000)  # within the default limit (about 4.6 MB), and ten times past it


def payload(records: int) -> RestorePayload:
    """The whole payload of a window of seeded records, as the handler builds it."""
    validated = TypeAdapter(list[RestoreRecord]).validate_python(generate_records(records))
    query = RestoreQuery.of(
        project_id=DEFAULT_PROJECT_ID,
        instance_id=DEFAULT_INSTANCE_ID,
        begin_time="20240101000000",
        end_time="20240131000000",
    )
    result = RestoreResult.collect(validated, [], records, truncated=False)
    return RestorePayload.whole(query, result, Forwarded(queued=0, already_forwarded=0))


def fitted_json(whole: RestorePayload) -> dict[str, Any]:
    """What the use case hands back: fitted, with the records encoded while they were counted."""
    return fit(whole, ResponseLimit(), LAMBDA_RESULT).to_json()


def run(repeats: int) -> list[Row]:
    rows = []
    for records in SIZES:
        whole = payload(records)
        kept = fit(whole, ResponseLimit(), LAMBDA_RESULT).payload.records_included.value
        fitting, encoding = median_seconds(partial(fitted_json, whole), whole.to_json, repeats=repeats)
        megabytes = len(json.dumps(whole.to_json())) / 1e6
        rows.append(
            Row(
                f"fit a {records:,}-record payload to 6,000,000 bytes, as returned",
                fitting,
                encoding,
                f"reference: the whole payload ({megabytes:.1f} MB as JSON) turned into the dicts Lambda encodes, "
                f"not fitted; records kept: {kept}",
            )
        )
    return rows
