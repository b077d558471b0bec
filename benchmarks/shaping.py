"""Fitting a payload to the response limit, against encoding it whole as Lambda then does anyway."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from pydantic import TypeAdapter

from benchmarks.timing import Row, median_seconds
from dcs_restores import RestoreQuery, RestoreResult
from dcs_restores.models import RestoreRecord
from devkit.emulator import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID
from devkit.seed import generate_records
from restore_watch.forwarding import Forwarded
from restore_watch.service import RestoreReport
from restore_watch.shaping import LAMBDA_RESULT, ResponseLimit, fit

SIZES = (10_000, 100_000)  # within the default limit (about 4.6 MB), and ten times past it


def payload(records: int) -> dict[str, Any]:
    """The whole payload of a window of seeded records, as the handler builds it."""
    validated = TypeAdapter(list[RestoreRecord]).validate_python(generate_records(records))
    query = RestoreQuery.of(
        project_id=DEFAULT_PROJECT_ID,
        instance_id=DEFAULT_INSTANCE_ID,
        begin_time="20240101000000",
        end_time="20240131000000",
    )
    result = RestoreResult.collect(validated, [], records, truncated=False)
    return RestoreReport(query, result, Forwarded(queued=0, already_forwarded=0)).payload()


def run(repeats: int) -> list[Row]:
    rows = []
    for records in SIZES:
        whole = payload(records)
        fitted = fit(whole, ResponseLimit(), LAMBDA_RESULT)
        kept = fitted["records_included"]
        fitting, encoding = median_seconds(
            partial(fit, whole, ResponseLimit(), LAMBDA_RESULT), partial(json.dumps, whole), repeats=repeats
        )
        rows.append(
            Row(
                f"fit a {records:,}-record payload to 6,000,000 bytes",
                fitting,
                encoding,
                f"reference: json.dumps of the whole payload ({len(json.dumps(whole)) / 1e6:.1f} MB), as Lambda "
                f"encodes a result; records kept: {kept}",
            )
        )
    return rows
