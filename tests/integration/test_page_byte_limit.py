"""MAX_PAGE_BYTES at its edge, through the emulator: a page of exactly that many bytes is read, one more refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dcs_restores import DcsInvalidResponseError, DcsRestoresClient
from devkit.emulator import Emulator

from ..contract.signed_requests import get
from ..support import WINDOW, window_query

MakeClient = Callable[..., DcsRestoresClient]
RECORD = {
    "restore_id": "r-1",
    "status": "failed",
    "created_at": "2024-01-02T00:00:00.000Z",
    "error_code": "dcs.08.0002",
}
REMARK = "padding " * 12_500  # a page of about 100 kB: read in more than one chunk


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    server = Emulator([{**RECORD, "restore_remark": REMARK}])
    server.start()
    yield server
    server.stop()


def page_bytes(emulator: Emulator) -> int:
    """The page's body as the emulator serves it to the client's first request, measured apart from the client."""
    answer = get(emulator.url, [*WINDOW.items(), ("limit", "1000"), ("offset", "0")])
    assert answer.status_code == 200
    return len(answer.content)


@pytest.mark.parametrize(("over_the_body", "read"), [(1, True), (0, True), (-1, False)], ids=["below", "at", "above"])
def test_a_page_of_exactly_max_page_bytes_is_read_and_one_byte_more_is_refused(
    emulator: Emulator, make_client: MakeClient, over_the_body: int, read: bool
) -> None:
    # Given a limit one byte above the page's body, exactly its size, and one byte below it
    body = page_bytes(emulator)
    assert body > 65_536
    client = make_client(max_page_bytes=body + over_the_body)

    # Then the page is read up to and at the limit, and refused (a named error, not retried) past it
    if read:
        [record] = client.list_restores(window_query()).records
        assert (record.restore_id, record.restore_remark) == ("r-1", REMARK)
    else:
        with pytest.raises(DcsInvalidResponseError, match=f"more than {body - 1} bytes"):
            client.list_restores(window_query())
    # And the client asked for the very page measured, once: no retry
    measured, asked = emulator.restore_requests()
    assert asked.query == measured.query
