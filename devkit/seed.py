"""Deterministic restore records, shaped exactly as DCS sends them (quirks included)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
VENDOR_EXAMPLE = FIXTURES / "vendor-example.json"

ERROR_CODES = [f"dcs.08.000{n}" for n in range(1, 9)]


def vendor_time(moment: datetime) -> str:
    """ISO 8601 with milliseconds and ``Z``, as in the vendor's example."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def generate_records(
    count: int,
    *,
    seed: int = 7,
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    step: timedelta = timedelta(minutes=7),
    failed_every: int = 5,
) -> list[dict[str, Any]]:
    """``count`` records, one every ``step`` from ``start``; every ``failed_every``-th one failed.

    The same arguments always give the same records. Empty fields are sent as ``{}``, progress as
    a decimal string, like the vendor's own example.
    """
    rng = random.Random(seed)  # seeded so records replay, not crypto  # nosec B311
    records = []
    for index in range(count):
        created = start + index * step + timedelta(milliseconds=rng.randrange(1000))
        error_code: str | dict[str, Any] = {}  # the vendor sends {} for "no error code"
        if failed_every and index % failed_every == failed_every - 1:
            status, progress, error_code = "failed", f"{rng.randrange(10, 95)}.00", ERROR_CODES[index % 8]
        elif index % 11 == 10:
            status, progress = "restoring", f"{rng.randrange(1, 99)}.50"
        elif index % 13 == 12:
            status, progress = "waiting", "0.00"
        else:
            status, progress = "succeed", "100.00"
        finished = status in ("succeed", "failed")
        records.append(
            {
                "backup_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "restore_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "backup_name": f"backup_{created:%Y%m%d%H%M%S}",
                "updated_at": vendor_time(created + timedelta(seconds=rng.randrange(5, 600))) if finished else {},
                "restore_remark": f"restore {index}",
                "created_at": vendor_time(created),
                "progress": progress,
                "error_code": error_code,
                "restore_name": f"restore_{created:%Y%m%d%H%M%S}",
                "backup_remark": {} if index % 3 else f"nightly backup {index}",
                "status": status,
            }
        )
    return records


def load_fixture(path: Path | str = VENDOR_EXAMPLE) -> list[dict[str, Any]]:
    """Records from a file holding a DCS 200 body or a bare list of records."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    records = data["restore_record_response"] if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a DCS body or a list of records")
    return records
