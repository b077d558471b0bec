"""A DCS that misbehaves in time: whatever it does, a read ends by its deadline, as a timeout.

Each case asserts when the client gave up, not only what it raised: not before the deadline (a
per-request timeout is cut to the time left, never longer), and long before the hostile peer itself
gives up (``HostilePeer``'s lifetime, 15 s), which is where a missed deadline would end. How close to
the deadline it ends is a figure for ``make bench``, not a pass/fail check: a loaded machine wakes
threads late.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from common.timing import Timing
from dcs_restores import DcsRestoresClient, DcsTimeoutError, Deadline
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler

from ..hostile import HostilePeer
from ..support import fresh_container, load_event, window_query

MakeClient = Callable[..., DcsRestoresClient]

DEADLINE = 2.0
EARLY = 0.1  # the deadline may be met this much early (a per-request timeout is the time left, rounded)
LATE = 8.0  # and met well before the peer's own lifetime ends it; generous, so machine load cannot fail it


@pytest.fixture
def peer(request: pytest.FixtureRequest) -> Iterator[HostilePeer]:
    behaviour, options = request.param
    with HostilePeer(behaviour, **options) as hostile:
        yield hostile


HOSTILE = [
    pytest.param(("trickle", {"interval": 0.2}), id="trickle-with-content-length"),
    pytest.param(("trickle", {"interval": 0.2, "content_length": False}), id="trickle-until-close"),
    pytest.param(("trickle", {"interval": 1.0}), id="trickle-a-byte-a-second"),
    pytest.param(("stall_after_headers", {}), id="stall-after-headers"),
    pytest.param(("never_answer", {}), id="never-answer"),
    pytest.param(("never_accept", {}), id="never-accept"),
]


def assert_on_time(elapsed: float, deadline: float) -> None:
    assert deadline - EARLY <= elapsed <= deadline + LATE, f"gave up after {elapsed:.2f} s, deadline {deadline} s"


@pytest.mark.parametrize("peer", HOSTILE, indirect=True)
def test_a_single_page_ends_by_the_deadline_as_a_timeout(peer: HostilePeer, make_client: MakeClient) -> None:
    client = make_client(endpoint=peer.url, min_request_time=0.1)
    started = time.monotonic()
    with pytest.raises(DcsTimeoutError):
        client.list_restores(window_query(limit=10), Deadline.after(DEADLINE))
    assert_on_time(time.monotonic() - started, DEADLINE)


@pytest.mark.parametrize("peer", HOSTILE, indirect=True)
def test_a_window_ends_by_the_deadline_as_a_timeout(peer: HostilePeer, make_client: MakeClient) -> None:
    # The window's first page, with the client's own (longer) per-request timeouts cut to the time left
    client = make_client(endpoint=peer.url, min_request_time=0.1, connect_timeout=5.0, read_timeout=5.0)
    started = time.monotonic()
    with pytest.raises(DcsTimeoutError):
        client.list_restores(window_query(), Deadline.after(DEADLINE))
    assert_on_time(time.monotonic() - started, DEADLINE)


def test_a_read_timeout_while_the_body_stalls_is_a_timeout_not_unavailable(make_client: MakeClient) -> None:
    # Given a DCS that stalls after its headers, and a read timeout far shorter than the deadline
    with HostilePeer("stall_after_headers") as peer:
        client = make_client(endpoint=peer.url, read_timeout=0.3, retry=None, sleep=None)
        started = time.monotonic()
        # Then each attempt's read times out, is retried, and in the end it is a timeout
        with pytest.raises(DcsTimeoutError, match="4 attempt"):
            client.list_restores(window_query(limit=10), Deadline.after(10.0))
        assert time.monotonic() - started < 5.0
        assert peer.connections >= 2


@pytest.mark.parametrize(
    "peer",
    [pytest.param(("trickle", {"interval": 0.2}), id="trickle"), pytest.param(("stall_after_headers", {}), id="stall")],
    indirect=True,
)
def test_http_answers_504_within_the_budget_when_dcs_trickles(
    peer: HostilePeer, function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DCS at a peer that trickles, and 7 s left: DCS reads get 7 - 1 (response) - 4 (forwarding) = 2 s
    timing = Timing()
    left = 7.0
    reads = left - timing.response_reserve - timing.forwarding_reserve
    assert reads == 2.0
    monkeypatch.setenv("DCS_ENDPOINT", peer.url)
    fresh_container()
    started = time.monotonic()
    context = LocalContext(remaining_ms=int(left * 1000))
    answer: dict[str, Any] = lambda_handler(load_event("http-get-window.json"), context)
    elapsed = time.monotonic() - started
    # Then the answer is a 504, given when the DCS reads' deadline passed, well within the invocation
    assert answer["statusCode"] == 504
    assert json.loads(answer["body"])["error"]["code"] == "dcs_timeout"
    assert_on_time(elapsed, reads)
