"""Helpers shared by the tests."""

from __future__ import annotations

from typing import Any

from dcs_restores import RestoreQuery

from devkit.emulator import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID

WINDOW = {"begin_time": "20240101000000", "end_time": "20241231235959"}


class RecordingSleep:
    """Stands in for time.sleep: the only thing a test patches is the passing of time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def window_query(**fields: Any) -> RestoreQuery:
    return RestoreQuery.of(**{"project_id": DEFAULT_PROJECT_ID, "instance_id": DEFAULT_INSTANCE_ID, **WINDOW, **fields})
