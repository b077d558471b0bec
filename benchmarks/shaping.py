"""Fitting a payload to the response limit, against encoding it whole as Lambda then does anyway."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from pydantic import TypeAdapter

from benchmarks.timing import Row, median_seconds
from dcs_restores.models import RestoreRecord
from devkit.seed import generate_records
from restore_watch.shaping import LAMBDA_RESULT, ResponseLimit, fit

SIZES = (10_000, 100_000)  # within the default limit (about 4.6 MB), and ten times past it


def payload(records: int) -> dict[str, Any]:
    """A payload as ``RestoreReport.payload`` builds it, over seeded records."""
    validated = TypeAdapter(list[RestoreRecord]).validate_python(generate_records(records))
    return {
        "instance_id": "a1b2c3d4-0000-1111-2222-333344445555",
        "project_id": "0123456789abcdef0123456789abcdef",
        "records": [record.model_dump(mode="json") for record in validated],
        "records_included": "all",
        "invalid_records": [],
        "invalid_records_omitted": 0,
    }


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
