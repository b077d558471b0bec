"""The emulator's ``progress`` knob: a restore moves through statuses one read at a time."""

from __future__ import annotations

from collections.abc import Callable

from dcs_restores import DcsRestoresClient, RestoreStatus
from devkit.emulator import PROGRESS_ERROR_CODE, Emulator
from tests.support import window_query


def test_each_read_shows_the_next_status_and_the_last_one_sticks(
    emulator: Emulator, make_client: Callable[..., DcsRestoresClient]
) -> None:
    # Given a restore set to go waiting -> restoring -> failed
    client = make_client()
    before = {r.restore_id: r for r in client.list_restores(window_query()).records}
    record = next(r for r in before.values() if r.status is RestoreStatus.SUCCEED)
    emulator.progress(record.restore_id, ["waiting", "restoring", "failed"])

    # When the window is read four times
    seen = [
        next(r for r in client.list_restores(window_query()).records if r.restore_id == record.restore_id)
        for _ in range(4)
    ]

    # Then it shows each status in turn, failed with the default error code once finished, and stays there
    assert [r.status.value for r in seen] == ["waiting", "restoring", "failed", "failed"]
    assert [r.error_code for r in seen[2:]] == [PROGRESS_ERROR_CODE, PROGRESS_ERROR_CODE]
    assert seen[2].updated_at is not None
    # And the other records are served as stored
    after = {r.restore_id: r for r in client.list_restores(window_query()).records}
    assert {key: r for key, r in after.items() if key != record.restore_id} == {
        key: r for key, r in before.items() if key != record.restore_id
    }
