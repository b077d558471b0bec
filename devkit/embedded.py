"""What the embedded default's DCS holds: a small fleet with records of 2024 and of the last hours.

The two instances named in ``events/`` keep their records of 2024-01-01, which every sample event
reads. For the workflows, every instance of the fleet also has restores from the last few hours,
inside a sweep's default lookback (``PT6H``); and the first instance has a demo restore, started
minutes ago, that a ``wait-for-restore`` sees go waiting, then restoring, then succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .emulator import DEFAULT_INSTANCE_ID
from .fleet import default_instance
from .seed import generate_fleet, generate_fleet_records, generate_records, vendor_time

SECOND_INSTANCE_ID = "b1b2c3d4-0000-1111-2222-333344445555"  # the second one in events/
DEMO_RESTORE_ID = "de300000-0000-1111-2222-333344445555"  # of DEFAULT_INSTANCE_ID
DEMO_STATUSES = ("waiting", "restoring", "succeed")  # one a read: the first poll sees waiting
GENERATED_INSTANCES = 40
RECENT_PER_INSTANCE = 14  # two failed, one restoring and one waiting among them (generate_records' pattern)
RECENT_STEP = timedelta(minutes=18)  # 14 restores span 3 h 54 min
RECENT_FROM = timedelta(hours=5)  # before now: the newest is 66 min old, the oldest well inside PT6H
RECENT_SEED = 100  # not generate_records' default: no restore ID of 2024 comes back


@dataclass(frozen=True)
class EmbeddedFleet:
    """The instances (vendor-shaped, as List instances serves them) and each one's restore records."""

    instances: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]]  # all of them, as the emulator takes them
    recent: dict[str, list[dict[str, Any]]]  # those of the last hours, the demo restore included

    @property
    def size(self) -> int:
        return len(self.instances)


def embedded_fleet(now: datetime | None = None) -> EmbeddedFleet:
    """The same instances and statuses every time; the recent records are dated from ``now``."""
    now = now or datetime.now(UTC)
    second = {
        **default_instance(SECOND_INSTANCE_ID),
        "name": "sessions-cache",
        "created_at": "2023-06-02T14:30:05.481Z",
        "tags": [{"key": "env", "value": "staging"}, {"key": "team", "value": "identity"}],
    }
    instances = [default_instance(DEFAULT_INSTANCE_ID), second, *generate_fleet(GENERATED_INSTANCES)]
    start = (now - RECENT_FROM).replace(microsecond=0)
    recent = generate_fleet_records(instances, RECENT_PER_INSTANCE, seed=RECENT_SEED, start=start, step=RECENT_STEP)
    recent[DEFAULT_INSTANCE_ID].append(_demo_restore(now))
    records = {instance_id: list(items) for instance_id, items in recent.items()}
    records[DEFAULT_INSTANCE_ID] += generate_records(40)
    records[SECOND_INSTANCE_ID] += generate_records(12, seed=3)
    return EmbeddedFleet(instances, records, recent)


def _demo_restore(now: datetime) -> dict[str, Any]:
    """A restore started ten minutes ago, stored as its first read shows it (the emulator moves it on)."""
    created = (now - timedelta(minutes=10)).replace(microsecond=0)
    return {
        "backup_id": "de300000-0000-1111-2222-bac4bac4bac4",
        "restore_id": DEMO_RESTORE_ID,
        "backup_name": f"backup_{created:%Y%m%d%H%M%S}",
        "updated_at": {},
        "restore_remark": "demo restore for wait-for-restore",
        "created_at": vendor_time(created),
        "progress": "0.00",
        "error_code": {},
        "restore_name": f"restore_{created:%Y%m%d%H%M%S}",
        "backup_remark": {},
        "status": DEMO_STATUSES[0],
    }
