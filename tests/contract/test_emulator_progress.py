"""A restore moves through statuses one served read at a time: deterministic, never the wall clock."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dcs_restores import Credentials, DcsRestoresClient
from devkit.emulator import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator, Scripted
from devkit.seed import generate_fleet, generate_records

from ..support import window_query
from .signed_requests import get

RESTORE_ID = "0a0a0a0a-1111-4222-8333-444455556666"
STARTED: dict[str, Any] = {
    "backup_id": "f4823e9e-fe9b-4ffd-be79-4e5d6de272bb",
    "restore_id": RESTORE_ID,
    "backup_name": "backup_20240101235900",
    "updated_at": {},
    "restore_remark": "runbook step 3",
    "created_at": "2024-01-02T11:58:00.000Z",
    "progress": "0.00",
    "error_code": {},
    "restore_name": "restore_20240102115800",
    "backup_remark": {},
    "status": "waiting",
}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # Twelve older restores beside the one a runbook started: the newest comes first in a window
    server = Emulator([*generate_records(12), STARTED])
    with server:
        yield server


def read(emulator: Emulator, params: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The followed restore as one page of its window shows it."""
    response = get(emulator.url, params or [("begin_time", "20240102000000")])
    assert response.status_code == 200, response.text
    [record] = [record for record in response.json()["restore_record_response"] if record["restore_id"] == RESTORE_ID]
    return dict(record)


def ended(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["updated_at"])


def test_each_read_shows_the_next_status_and_the_last_one_sticks(emulator: Emulator) -> None:
    # Given a restore that waits, restores, then fails
    emulator.progress(RESTORE_ID, ["waiting", "restoring", "failed"])
    # When its window is read five times
    shown = [read(emulator) for _ in range(5)]
    # Then each read shows one step further, and failed stays
    assert [record["status"] for record in shown] == ["waiting", "restoring", "failed", "failed", "failed"]


def test_a_failed_step_carries_the_documented_error_code_and_an_updated_at(emulator: Emulator) -> None:
    emulator.progress(RESTORE_ID, ["restoring", "failed"])
    restoring = read(emulator)
    before = datetime.now(UTC).replace(microsecond=0)
    failed = read(emulator)
    after = datetime.now(UTC)
    again = read(emulator)
    # Unfinished: no error code, no updated_at, as the vendor sends "no value"
    assert (restoring["error_code"], restoring["updated_at"]) == ({}, {})
    # Finished: the error code, and the emulator's clock when it was first shown, which then stays
    assert failed["error_code"] == "dcs.08.0002"
    assert before <= ended(failed) <= after
    assert again == failed


def test_a_restore_that_has_an_error_code_keeps_it() -> None:
    # Given a restore DCS already lists as failed, with its own code and end time
    record = {**STARTED, "error_code": "dcs.08.0005", "status": "failed", "updated_at": "2024-01-02T11:59:30.000Z"}
    server = Emulator([record])
    with server:
        server.progress(RESTORE_ID, ["waiting", "failed"])
        waiting, failed = read(server), read(server)
    assert (waiting["status"], waiting["error_code"], waiting["updated_at"]) == ("waiting", {}, {})
    assert (failed["error_code"], failed["updated_at"]) == ("dcs.08.0005", "2024-01-02T11:59:30.000Z")


def test_a_restore_that_succeeds_shows_full_progress_and_when_it_ended(emulator: Emulator) -> None:
    emulator.progress(RESTORE_ID, ["waiting", "succeed"])
    waiting, succeeded = read(emulator), read(emulator)
    assert (waiting["status"], waiting["progress"]) == ("waiting", "0.00")
    assert (succeeded["status"], succeeded["progress"], succeeded["error_code"]) == ("succeed", "100.00", {})
    assert ended(succeeded) > datetime.fromisoformat(STARTED["created_at"])


def test_only_a_page_holding_the_restore_is_a_read_of_it(emulator: Emulator) -> None:
    emulator.progress(RESTORE_ID, ["waiting", "restoring", "succeed"])
    # When pages without it are served (it is the newest: offset 1 and a window before it skip it)
    assert get(emulator.url, [("offset", "1")]).status_code == 200
    assert get(emulator.url, [("end_time", "20240101235959")]).status_code == 200
    # Then its first read still shows the first status
    assert read(emulator)["status"] == "waiting"


def test_a_page_the_script_mangles_or_refuses_is_no_read(emulator: Emulator) -> None:
    emulator.progress(RESTORE_ID, ["waiting", "restoring"])
    emulator.script(Scripted(status=503), Scripted(body="truncated"))
    assert get(emulator.url, []).status_code == 503
    assert get(emulator.url, []).status_code == 200  # half a body: unreadable
    assert read(emulator)["status"] == "waiting"


def test_progress_is_seen_through_the_remembered_window(emulator: Emulator) -> None:
    # Given the same window read twice with the same records (so the emulator serves its remembered window)
    before = read(emulator)
    emulator.progress(RESTORE_ID, ["restoring", "succeed"])
    # Then the steps show all the same, and the record itself is left as it was
    assert [read(emulator)["status"] for _ in range(2)] == ["restoring", "succeed"]
    assert before["status"] == "waiting"
    assert STARTED["status"] == "waiting"


def test_calling_progress_again_starts_over(emulator: Emulator) -> None:
    emulator.progress(RESTORE_ID, ["waiting", "failed"])
    read(emulator)
    read(emulator)
    emulator.progress(RESTORE_ID, ["restoring", "succeed"])
    assert read(emulator)["status"] == "restoring"


def test_a_restore_that_arrives_later_starts_at_the_first_status(emulator: Emulator) -> None:
    later = {**STARTED, "restore_id": "0b0b0b0b-1111-4222-8333-444455556666", "created_at": "2024-01-02T11:59:00.000Z"}
    emulator.progress(later["restore_id"], ["waiting", "restoring"])
    read(emulator)  # a read before it exists is no read of it
    emulator.add_records([later])
    page = get(emulator.url, [("begin_time", "20240102000000")]).json()["restore_record_response"]
    assert [record["status"] for record in page if record["restore_id"] == later["restore_id"]] == ["waiting"]


def test_progress_is_per_instance_of_the_fleet() -> None:
    # Given two instances of a fleet holding the same restore record
    fleet = generate_fleet(2, seed=3)
    first, second = (instance["instance_id"] for instance in fleet)
    server = Emulator({first: [STARTED], second: [STARTED]}, instances=fleet)
    with server as url:
        # When only the second one's restore is moved on
        server.progress(RESTORE_ID, ["failed"], instance_id=second)

        def status(instance_id: str) -> str:
            path = f"/v2/{DEFAULT_PROJECT_ID}/instances/{instance_id}/restores"
            [record] = get(url, [], path=path).json()["restore_record_response"]
            return str(record["status"])

        # Then the first one's is left as it was
        assert (status(first), status(second)) == ("waiting", "failed")


def test_the_library_client_sees_the_restore_finish_one_read_at_a_time(emulator: Emulator) -> None:
    emulator.progress(RESTORE_ID, ["waiting", "restoring", "failed"])
    statuses = []
    with DcsRestoresClient(emulator.url, Credentials(DEFAULT_AK, DEFAULT_SK)) as client:
        for _ in range(3):
            result = client.list_restores(window_query(begin_time="20240102000000", end_time="20240102235959"))
            [record] = [record for record in result.records if record.restore_id == RESTORE_ID]
            statuses.append((record.status.value, record.error_code))
    assert statuses == [("waiting", None), ("restoring", None), ("failed", "dcs.08.0002")]


def test_progress_needs_a_status(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="at least one status"):
        emulator.progress(RESTORE_ID, [])
