"""Deterministic restore records and fleets of instances, shaped exactly as DCS sends them (quirks included)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
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


# (engine, engine_version, spec_code, capacity in GB); a cycle, so any few consecutive instances differ
_ENGINES = (
    ("Redis", "6.0", "redis.ha.xu1.large.r2.{capacity}", (2, 4, 8)),
    ("Redis", "5.0", "redis.single.xu1.large.{capacity}", (1, 2)),
    ("Redis", "7.0", "redis.cluster.xu1.large.shard.{capacity}", (8, 16, 32)),
    ("Redis", "6.0", "redis.ha.xu1.large.r2.{capacity}", (4, 8)),
    ("Memcached", "1.5", "dcs.memcached.master_standby.{capacity}", (1, 2, 4)),
    ("Redis", "7.0", "redis.ha.xu1.large.r2.{capacity}", (2, 4)),
)
# A cycle of 20 statuses, 16 of them RUNNING: any 20 consecutive instances hold each of the others once
_STATUS_CYCLE = tuple(
    {3: "RESTARTING", 9: "ERROR", 14: "FROZEN", 18: "CREATING"}.get(slot, "RUNNING") for slot in range(20)
)
_SERVICES = {  # service -> the team that owns it
    "orders": "checkout",
    "carts": "checkout",
    "sessions": "identity",
    "profiles": "identity",
    "catalog": "catalog",
    "search": "catalog",
    "payments": "payments",
    "inventory": "logistics",
}
_ENVIRONMENTS = ("prod", "prod", "staging", "dev")  # most caches serve production
_AZ_CODES = (("cn-north-4a", "cn-north-4b"), ("cn-north-4a",), ("cn-north-4b", "cn-north-4c"))
OLDER_INSTANCE_EVERY = 25  # one instance in 25 is an older one: tags [] and description null, as DCS sends them


def generate_fleet(
    count: int, *, seed: int = 0, start: datetime = datetime(2022, 3, 1, tzinfo=UTC)
) -> list[dict[str, Any]]:
    """``count`` instances as "List instances" serves them, the same ones for the same arguments.

    Engines Redis 5.0/6.0/7.0 and Memcached; statuses mostly RUNNING, with RESTARTING, ERROR,
    FROZEN and CREATING among any 20 consecutive instances; tags ``env`` (prod, staging, dev) and
    ``team``; names like ``orders-cache-007`` (the number is the instance's index); IDs like UUIDs,
    derived from ``seed``; created about a day apart from ``start``, oldest first. One instance in
    ``OLDER_INSTANCE_EVERY`` has the quirks of an older instance (``tags: []``, ``description: null``).
    """
    if count < 0:
        raise ValueError("count must be 0 or more")
    rng = random.Random(seed)  # seeded so fleets replay, not crypto  # nosec B311
    engine_offset, status_offset = rng.randrange(len(_ENGINES)), rng.randrange(len(_STATUS_CYCLE))
    services = sorted(_SERVICES)
    fleet = []
    for index in range(count):
        engine, version, spec, capacities = _ENGINES[(index + engine_offset) % len(_ENGINES)]
        service = rng.choice(services)
        capacity = rng.choice(capacities)
        created = start + timedelta(hours=24 * index + rng.randrange(24), milliseconds=rng.randrange(1000))
        older = index % OLDER_INSTANCE_EVERY == OLDER_INSTANCE_EVERY - 1
        # most live in the default enterprise project, "0"
        enterprise_project = "0" if rng.random() < 0.8 else str(uuid.UUID(int=rng.getrandbits(128), version=4))
        tags = [{"key": "env", "value": rng.choice(_ENVIRONMENTS)}, {"key": "team", "value": _SERVICES[service]}]
        fleet.append(
            {
                "instance_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "name": f"{service}-cache-{index:03d}",
                "engine": engine,
                "engine_version": version,
                "status": _STATUS_CYCLE[(index + status_offset) % len(_STATUS_CYCLE)],
                "created_at": vendor_time(created),
                "tags": [] if older else tags,
                "enterprise_project_id": enterprise_project,
                "spec_code": spec.format(capacity=capacity),
                "capacity": capacity,
                "az_codes": list(rng.choice(_AZ_CODES)),
                "description": None if older else f"{service} cache ({tags[0]['value']})",
            }
        )
    return fleet


def generate_fleet_records(
    fleet: Sequence[dict[str, Any]],
    per_instance: int,
    failed_every: int = 5,
    *,
    seed: int = 7,
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    step: timedelta = timedelta(minutes=7),
) -> dict[str, list[dict[str, Any]]]:
    """Instance ID -> ``per_instance`` records from ``generate_records``, as ``Emulator`` takes them.

    Each instance gets its own seed (``seed`` plus its index), so no two share a restore ID.
    """
    return {
        str(instance["instance_id"]): generate_records(
            per_instance, seed=seed + index, start=start, step=step, failed_every=failed_every
        )
        for index, instance in enumerate(fleet)
    }


def load_fixture(path: Path | str = VENDOR_EXAMPLE) -> list[dict[str, Any]]:
    """Records from a file holding a DCS 200 body or a bare list of records."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    records = data["restore_record_response"] if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a DCS body or a list of records")
    return records
