"""The discovery's SnapStart hooks (see ``common.snapstart``): prime before the snapshot, forget after.

Before: a sweep's event is read into its scope with this container's settings, the layer lists a
sample fleet offline, and a Secrets Manager read is answered in-process. After a restore: new random
seeds, and the DCS client is dropped with its connections and credentials.
"""

from __future__ import annotations

from typing import Any

import dcs_restores
from common import snapstart

from .discovery import instance_discovery
from .scope import scope_of

SAMPLE_EVENT: dict[str, Any] = {
    "scheduled_time": "2024-01-01T06:00:00Z",
    "lookback": "PT6H",
    "status": None,
    "name": None,
    "tags": {},
}


def before_snapshot() -> None:
    discovery = instance_discovery()  # settings from the environment; no DCS client yet, so no secret is read
    scope_of(SAMPLE_EVENT, discovery.settings)
    dcs_restores.prime()
    snapstart.prime_secret_read()


def after_restore() -> None:
    snapstart.forget_shared_state()
    instance_discovery().disconnect()
