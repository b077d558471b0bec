"""The client against the DCS emulator, over real loopback HTTP."""

import contextlib
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dcs_restores import (
    Credentials,
    DcsAuthError,
    DcsBadRequestError,
    DcsInvalidResponseError,
    DcsNotFoundError,
    DcsRestoresClient,
    DcsTimeoutError,
    DcsUnavailableError,
    Deadline,
    RestoreStatus,
    RetryPolicy,
    reporting_pages,
)
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_SK, Emulator, Scripted
from devkit.seed import generate_records

from ..support import RecordingSleep, window_query

MakeClient = Callable[..., DcsRestoresClient]


def restore_ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["restore_id"] for record in records]


def newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda record: record["created_at"], reverse=True)


def test_a_single_page_is_read_as_asked(emulator: Emulator, make_client: MakeClient) -> None:
    # Given 35 seeded records
    client = make_client()
    # When one page is asked for
    result = client.list_restores(window_query(offset=5, limit=10))
    # Then exactly that page comes back, with DCS's total, in one request
    expected = newest_first(generate_records(35))[5:15]
    assert [record.restore_id for record in result.records] == restore_ids(expected)
    assert result.total == 35
    assert not result.truncated
    [request] = emulator.restore_requests()
    assert request.query == "begin_time=20240101000000&end_time=20241231235959&limit=10&offset=5"


def test_the_whole_window_is_read_across_pages_in_order(emulator: Emulator, make_client: MakeClient) -> None:
    # Given pages of 10 over 35 records
    client = make_client(page_size=10)
    # When the whole window is read
    result = client.list_restores(window_query())
    # Then every record arrives once, newest first, from 4 requests (first page, then 3 concurrently)
    assert [record.restore_id for record in result.records] == restore_ids(newest_first(generate_records(35)))
    assert sorted(request.query for request in emulator.restore_requests()) == sorted(
        f"begin_time=20240101000000&end_time=20241231235959&limit=10&offset={offset}" for offset in (0, 10, 20, 30)
    )
    assert sum(result.counts.values()) == 35
    assert result.counts[RestoreStatus.FAILED] == 7


def test_the_window_filters_on_created_at(emulator: Emulator, make_client: MakeClient) -> None:
    # Given records seeded every 7 minutes from 2024-01-01 00:00
    # When the window is 00:10 to 00:30
    result = make_client().list_restores(window_query(begin_time="20240101001000", end_time="20240101003000"))
    # Then the restores created at 00:28, 00:21 and 00:14 come back, newest first
    assert [(record.created_at.hour, record.created_at.minute) for record in result.records if record.created_at] == [
        (0, 28),
        (0, 21),
        (0, 14),
    ]


def test_no_records_is_an_empty_result(emulator: Emulator, make_client: MakeClient) -> None:
    result = make_client().list_restores(window_query(begin_time="20300101000000", end_time="20300102000000"))
    assert result.records == []
    assert result.total == 0
    assert result.counts == dict.fromkeys(RestoreStatus, 0)


def test_a_cap_truncates_loudly(emulator: Emulator, make_client: MakeClient) -> None:
    result = make_client(page_size=10, max_records=25).list_restores(window_query())
    assert len(result.records) == 25
    assert result.truncated
    assert result.total == 35
    assert "limit=5&offset=20" in {
        request.query.split("end_time=20241231235959&")[1] for request in emulator.restore_requests()
    }


def test_a_bad_request_carries_dcs_error_code_and_request_id(emulator: Emulator, make_client: MakeClient) -> None:
    # limit is validated by RestoreQuery; read_page sends what it is given, so DCS answers 400
    with pytest.raises(DcsBadRequestError) as raised:
        make_client().read_page(window_query(), offset=0, limit=5000)
    assert raised.value.status == 400
    assert raised.value.error_code == "DCS.4800"
    assert raised.value.request_id
    assert "limit" in str(raised.value)


def test_an_unknown_instance_is_not_found(emulator: Emulator, make_client: MakeClient) -> None:
    with pytest.raises(DcsNotFoundError) as raised:
        make_client().list_restores(window_query(instance_id="no-such-instance"))
    assert (raised.value.status, raised.value.error_code) == (404, "DCS.4204")
    assert isinstance(raised.value, DcsBadRequestError)  # callers that catch bad requests still catch it


@pytest.mark.parametrize(("body", "code"), [("normal", "APIGW.0101"), ("not-json", None), ("empty", None)])
def test_a_404_without_a_dcs_code_is_a_bad_request_not_a_missing_instance(
    emulator: Emulator, make_client: MakeClient, body: Any, code: str | None
) -> None:
    # The gateway's own 404 (APIGW.0101: no such API) or a proxy's page mean a wrong endpoint
    emulator.script(Scripted(status=404, body=body))
    with pytest.raises(DcsBadRequestError) as raised:
        make_client().list_restores(window_query())
    assert not isinstance(raised.value, DcsNotFoundError)
    assert raised.value.error_code == code


def test_wrong_credentials_are_an_auth_error_that_shows_no_secret(emulator: Emulator, make_client: MakeClient) -> None:
    client = make_client(credentials=Credentials(DEFAULT_AK, "WRONG-SECRET-VALUE"))
    with pytest.raises(DcsAuthError) as raised:
        client.list_restores(window_query())
    assert raised.value.status == 401
    assert raised.value.error_code == "APIGW.0301"
    assert "WRONG-SECRET-VALUE" not in str(raised.value)
    assert "Signature=" not in str(raised.value)


def test_a_clock_more_than_15_minutes_off_is_refused(emulator: Emulator, make_client: MakeClient) -> None:
    client = make_client(now=lambda: datetime.now(UTC) - timedelta(minutes=16))
    with pytest.raises(DcsAuthError, match="15 minutes"):
        client.list_restores(window_query())


def test_temporary_credentials_send_their_security_token(make_client: MakeClient) -> None:
    with Emulator(generate_records(3), security_token="STS-TOKEN") as url:
        with pytest.raises(DcsAuthError, match="X-Security-Token"):
            make_client(endpoint=url).list_restores(window_query())
        client = make_client(endpoint=url, credentials=Credentials(DEFAULT_AK, DEFAULT_SK, "STS-TOKEN"))
        assert len(client.list_restores(window_query()).records) == 3


def test_429_then_success_waits_at_least_retry_after(
    emulator: Emulator, make_client: MakeClient, sleep: RecordingSleep
) -> None:
    emulator.script(Scripted(status=429, retry_after="2"), Scripted(status=503))
    result = make_client().list_restores(window_query())
    assert len(result.records) == 35
    assert len(emulator.restore_requests()) == 3
    assert sleep.calls[0] >= 2.0
    assert len(sleep.calls) == 2


def test_429_on_a_later_page_of_a_window_is_retried_and_the_window_completes(
    emulator: Emulator, make_client: MakeClient, sleep: RecordingSleep
) -> None:
    # Given a first page served, then one 429 without Retry-After for the next page asked for
    emulator.script(Scripted(), Scripted(status=429))
    client = make_client(page_size=10, max_workers=1)
    # When the whole window is read in pages of 10
    result = client.list_restores(window_query())
    # Then the throttled page was asked for again after one backoff, and every record arrived once
    assert [record.restore_id for record in result.records] == restore_ids(newest_first(generate_records(35)))
    offsets = [request.query.rsplit("&", 1)[1] for request in emulator.restore_requests()]
    assert offsets == ["offset=0", "offset=10", "offset=10", "offset=20", "offset=30"]
    assert len(sleep.calls) == 1


def test_5xx_until_retries_run_out_is_unavailable(
    emulator: Emulator, make_client: MakeClient, sleep: RecordingSleep
) -> None:
    emulator.script(*[Scripted(status=500)] * 3)
    with pytest.raises(DcsUnavailableError) as raised:
        make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.01)).list_restores(window_query())
    assert raised.value.status == 500
    assert raised.value.error_code == "DCS.5000"
    assert "after 3 attempt(s)" in str(raised.value)
    assert len(emulator.restore_requests()) == 3
    assert len(sleep.calls) == 2


def test_a_slow_answer_is_retried_then_a_timeout(emulator: Emulator, make_client: MakeClient) -> None:
    emulator.script(Scripted(delay=1.0), Scripted(delay=1.0))
    client = make_client(read_timeout=0.2, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    with pytest.raises(DcsTimeoutError, match="after 2 attempt"):
        client.list_restores(window_query())


def test_a_slow_answer_then_a_good_one_succeeds(emulator: Emulator, make_client: MakeClient) -> None:
    emulator.script(Scripted(delay=1.0))
    result = make_client(read_timeout=0.2).list_restores(window_query())
    assert len(result.records) == 35


def test_a_dropped_connection_is_retried(emulator: Emulator, make_client: MakeClient) -> None:
    emulator.script(Scripted(body="drop"))
    assert len(make_client().list_restores(window_query()).records) == 35


def test_connection_refused_is_unavailable(make_client: MakeClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = make_client(endpoint=f"http://127.0.0.1:{closed_port}", retry=RetryPolicy(max_attempts=2, base_delay=0))
    with pytest.raises(DcsUnavailableError, match="could not reach DCS"):
        client.list_restores(window_query())


@pytest.mark.parametrize("fault", ["truncated", "not-json", "empty", "bad-shape"])
def test_a_mangled_body_is_an_invalid_response(emulator: Emulator, make_client: MakeClient, fault: Any) -> None:
    emulator.script(Scripted(body=fault))
    with pytest.raises(DcsInvalidResponseError) as raised:
        make_client().list_restores(window_query())
    assert raised.value.status == 200
    assert raised.value.request_id


def test_a_drifted_record_is_reported_and_the_rest_are_kept(emulator: Emulator, make_client: MakeClient) -> None:
    # Given two records of the window drifting from the schema
    emulator.faults.drift = {3: {"status": "exploded"}, 17: {"progress": ["100"]}}
    # When the whole window is read in pages of 10
    result = make_client(page_size=10).list_restores(window_query())
    # Then both are reported at their window index and the other 33 are kept
    window = newest_first(generate_records(35))
    assert [(invalid.index, invalid.restore_id) for invalid in result.invalid_records] == [
        (3, window[3]["restore_id"]),
        (17, window[17]["restore_id"]),
    ]
    assert "status" in result.invalid_records[0].reason
    assert len(result.records) == 33
    assert sum(result.counts.values()) + len(result.invalid_records) == 35


def test_new_restores_mid_read_shift_pages_without_duplicates_or_losses(
    emulator: Emulator, make_client: MakeClient
) -> None:
    # Given two restores that appear after the first page was served (newest, so every page shifts by 2)
    arrivals = generate_records(2, seed=99, start=datetime(2024, 6, 1, tzinfo=UTC))
    emulator.faults.arrivals = arrivals
    # When the window is read in pages of 10
    result = make_client(page_size=10).list_restores(window_query())
    # Then each of the 35 records read at the start is there exactly once, and the grown total is honoured
    ids = [record.restore_id for record in result.records]
    assert len(ids) == len(set(ids))
    assert set(restore_ids(generate_records(35))) <= set(ids)
    assert result.total == 37
    assert any("offset=30" in request.query for request in emulator.restore_requests())


def test_a_total_that_grows_between_pages_is_followed(emulator: Emulator, make_client: MakeClient) -> None:
    # Given 12 restores that DCS starts listing after the first page was served, at the window's far end
    # (created in December 2023, before every seeded record), so the total grows from 35 to 47
    arrivals = generate_records(12, seed=42, start=datetime(2023, 12, 1, tzinfo=UTC))
    emulator.faults.arrivals = arrivals
    # When a window that holds them all is read in pages of 10
    result = make_client(page_size=10).list_restores(window_query(begin_time="20231101000000"))
    # Then the grown total is followed to its last page, and the new restores are read with the others, once each
    assert result.total == 47
    assert any("offset=40" in request.query for request in emulator.restore_requests())
    assert [record.restore_id for record in result.records] == restore_ids(
        newest_first([*generate_records(35), *arrivals])
    )


def test_a_listener_hears_each_page_arrive_and_the_total_as_dcs_tells_it(
    emulator: Emulator, make_client: MakeClient
) -> None:
    # Given a listener, and a window of 35 records whose total grows to 47 after the first page
    emulator.faults.total_num_delta = 12
    heard: list[tuple[int, int]] = []
    # When the window is read in pages of 10 while it listens
    with reporting_pages(lambda done, total: heard.append((done, total))):
        make_client(page_size=10).list_restores(window_query())
    # Then it heard the first page of four, one page more at a time, the total grow, and the fifth page
    assert heard == [(1, 4), (2, 4), (3, 4), (4, 4), (4, 5), (5, 5)]
    # And a read outside the block, or of one page, tells nobody
    make_client(page_size=10).list_restores(window_query())
    with reporting_pages(lambda done, total: heard.append((done, total))):
        make_client().list_restores(window_query(offset=0, limit=10))
    assert len(heard) == 6


def test_a_total_num_that_grows_between_pages_is_asked_for_to_its_end(
    emulator: Emulator, make_client: MakeClient
) -> None:
    # Given a DCS whose total_num grows by 12 after the first page, with no records behind it yet
    emulator.faults.total_num_delta = 12
    result = make_client(page_size=10).list_restores(window_query())
    # Then the pages up to the grown total are asked for, and what is there is read
    assert len(result.records) == 35
    assert result.total == 47
    assert any("offset=40" in request.query for request in emulator.restore_requests())


def test_the_deadline_stops_paging(emulator: Emulator, make_client: MakeClient) -> None:
    # Given 0.3 s per request, pages of 5 read one at a time, and 0.5 s to spend
    emulator.faults.latency = 0.3
    client = make_client(page_size=5, max_workers=1, min_request_time=0.1)
    # When the window is read
    with pytest.raises(DcsTimeoutError):
        client.list_restores(window_query(), Deadline.after(0.5))
    # Then it gave up long before the 7 pages it would have needed
    assert len(emulator.restore_requests()) <= 3


def test_no_request_starts_without_time_to_finish(emulator: Emulator, make_client: MakeClient) -> None:
    with pytest.raises(DcsTimeoutError, match="no time"):
        make_client(min_request_time=1.0).list_restores(window_query(), Deadline.after(0.5))
    assert emulator.restore_requests() == []


def test_pages_after_the_first_do_not_start_once_the_time_left_is_under_min_request_time(
    emulator: Emulator, make_client: MakeClient
) -> None:
    # Given a deadline on a clock of the test's own, 5 s away, that moves 4.8 s while the first page is signed
    now = [1000.0]
    deadline = Deadline.after(5.0, clock=lambda: now[0])

    def signing_time() -> datetime:
        now[0] += 4.8 if now[0] == 1000.0 else 0.0
        return datetime.now(UTC)

    client = make_client(page_size=10, min_request_time=0.5, now=signing_time)
    # When the window is read (four pages: the first one alone, then three at once)
    with pytest.raises(DcsTimeoutError, match="no time"):
        client.list_restores(window_query(), deadline)
    # Then only the first page went out: 0.2 s left is less than a request's 0.5 s
    assert [request.query.rsplit("&", 1)[1] for request in emulator.restore_requests()] == ["offset=0"]


def test_a_retry_does_not_start_once_the_backoff_left_less_than_min_request_time(
    emulator: Emulator, make_client: MakeClient
) -> None:
    # Given a 503, 3 s on a clock of the test's own, and a backoff that took 2.8 s of it (a host that overslept)
    now = [1000.0]
    deadline = Deadline.after(3.0, clock=lambda: now[0])
    naps: list[float] = []

    def oversleep(seconds: float) -> None:
        naps.append(seconds)
        now[0] += 2.8

    emulator.script(Scripted(status=503))
    client = make_client(min_request_time=0.5, sleep=oversleep, retry=RetryPolicy(base_delay=0.01, max_delay=0.05))
    # When one page is read
    with pytest.raises(DcsUnavailableError) as raised:
        client.list_restores(window_query(limit=10), deadline)
    # Then after the one backoff the retry never went out: 0.2 s left is less than a request's 0.5 s
    assert raised.value.status == 503
    assert len(naps) == 1
    assert len(emulator.restore_requests()) == 1


def test_retry_after_beyond_the_deadline_fails_now(
    emulator: Emulator, make_client: MakeClient, sleep: RecordingSleep
) -> None:
    emulator.script(Scripted(status=503, retry_after="30"))
    with pytest.raises(DcsUnavailableError, match="deadline"):
        make_client().list_restores(window_query(), Deadline.after(5.0))
    assert sleep.calls == []
    assert len(emulator.restore_requests()) == 1


def test_logs_never_carry_credentials(
    emulator: Emulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.script(Scripted(status=503), Scripted(status=500))
    caplog.set_level(logging.DEBUG)
    make_client().list_restores(window_query())
    text = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "retrying" in text
    assert DEFAULT_SK not in text
    assert "Signature=" not in text
    assert "Authorization" not in text


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://dcs.example.com",
        "ftp://127.0.0.1",
        "https://dcs.example.com/v2",
        "https://user:pw@dcs.example.com",
        "dcs",
    ],
)
def test_endpoints_must_be_https_except_on_loopback(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        DcsRestoresClient(endpoint, Credentials("AK", "SK"))


def test_loopback_http_and_https_endpoints_are_accepted() -> None:
    for endpoint in ("http://127.0.0.1:8443", "http://[::1]:1", "http://localhost", "https://dcs.example.com/"):
        DcsRestoresClient(endpoint, Credentials("AK", "SK")).close()


def test_plain_http_to_any_host_only_when_the_caller_allows_it() -> None:
    # A container of `sam local` reaches the emulator on its host by name: the caller knows it is local
    DcsRestoresClient("http://host.docker.internal:8443", Credentials("AK", "SK"), allow_http=True).close()
    with pytest.raises(ValueError, match="https"):
        DcsRestoresClient("http://host.docker.internal:8443", Credentials("AK", "SK"))
    # Allowing http allows nothing else
    for endpoint in ("ftp://host.docker.internal", "http://host.docker.internal/v2", "http://u:p@host"):
        with pytest.raises(ValueError, match="endpoint"):
            DcsRestoresClient(endpoint, Credentials("AK", "SK"), allow_http=True)


def test_a_security_token_goes_over_plain_http_on_loopback_only_even_when_the_caller_allows_http() -> None:
    temporary = Credentials("AK", "SK", security_token="STS-TOKEN")
    with pytest.raises(ValueError, match="X-Security-Token never goes over plain http"):
        DcsRestoresClient("http://host.docker.internal:8443", temporary, allow_http=True)
    DcsRestoresClient("http://127.0.0.1:8443", temporary, allow_http=True).close()  # the emulator on loopback
    DcsRestoresClient("https://dcs.example.com", temporary, allow_http=True).close()


def test_an_instance_with_records_for_other_instances_sees_only_its_own() -> None:
    other = "b1b2c3d4-0000-1111-2222-333344445555"
    with Emulator({DEFAULT_INSTANCE_ID: generate_records(4), other: generate_records(9, seed=3)}) as url:
        client = DcsRestoresClient(url, Credentials(DEFAULT_AK, DEFAULT_SK))
        assert len(client.list_restores(window_query(instance_id=other)).records) == 9
        client.close()


def test_one_failing_page_stops_the_others_retrying(emulator: Emulator, make_client: MakeClient) -> None:
    # Given two pages read at once after the first: one told to come back in 30 s, the other refused outright.
    # The page asked first gets the 503, so the refusal (which stops the window) always comes second:
    # both pages have been asked for, whichever thread runs first.
    emulator.script(Scripted(), Scripted(status=503, retry_after="30"), Scripted(status=400))
    client = make_client(page_size=10, max_workers=2, sleep=None)  # real waiting, on the window's event
    # When the window is read, Then the refusal is what is raised...
    started = time.monotonic()
    with pytest.raises(DcsBadRequestError):
        client.list_restores(window_query())
    # ...the page waiting out its Retry-After gave up at once instead of asking again, and no page started after
    assert len(emulator.restore_requests()) == 3
    assert time.monotonic() - started < 15  # woken by the refusal, not at the end of its 30 s


def test_a_body_still_arriving_at_the_deadline_is_abandoned(make_client: MakeClient) -> None:
    # Given a DCS that sends its headers and then trickles the body, each read within the read timeout
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        stop = threading.Event()

        def trickle() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
                with contextlib.suppress(OSError):  # the client hangs up once it gives up
                    while not stop.wait(0.05):
                        connection.sendall(b" " * 70_000)  # more than one 64 KiB chunk each time

        server = threading.Thread(target=trickle, daemon=True)
        server.start()
        port = listener.getsockname()[1]
        client = make_client(endpoint=f"http://127.0.0.1:{port}", read_timeout=5.0, min_request_time=0.1)
        # When the deadline comes long before the 10 MB body would be complete (about 7 s)
        try:
            with pytest.raises(DcsTimeoutError, match="still sending"):
                client.list_restores(window_query(limit=10), Deadline.after(0.5))
        finally:
            stop.set()


def test_a_first_page_of_the_wrong_shape_stops_the_pages_it_started(
    emulator: Emulator, make_client: MakeClient
) -> None:
    # Given a first page whose total is readable (so the other pages start) but whose records are not a list
    emulator.script(Scripted(body="bad-shape"))
    client = make_client(page_size=10, max_workers=1)
    # When the window is read, Then the first page's problem is what is raised
    with pytest.raises(DcsInvalidResponseError, match="restore_record_response"):
        client.list_restores(window_query())
    # And at most the one page already started went out after it
    assert len(emulator.restore_requests()) <= 2


@contextlib.contextmanager
def canned_dcs(status: int, body: bytes, headers: dict[str, str] | None = None) -> Iterator[str]:
    """A peer on loopback that answers every request with ``status`` and ``body``; yields its URL."""

    class Canned(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may stop reading on purpose
                self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_error_body_nested_deeper_than_the_parser_goes_is_still_a_named_retried_failure(
    make_client: MakeClient,
) -> None:
    # Given a peer whose 503 bodies are nested 100,000 deep
    # Then the 503 is retried like any other, and ends as DcsUnavailableError, not a RecursionError
    with (
        canned_dcs(503, b"[" * 100_000 + b"]" * 100_000) as url,
        pytest.raises(DcsUnavailableError, match="after 4 attempt"),
    ):
        make_client(endpoint=url).list_restores(window_query())


def gzip_bomb(megabytes: int) -> bytes:
    """``megabytes`` MiB of spaces (valid JSON padding), gzipped to a few hundred kilobytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1024 * 1024)
    return b"".join([*(packer.compress(block) for _ in range(megabytes)), packer.flush()])


@pytest.mark.parametrize("padded", [False, True], ids=["gzip bomb", "whitespace padding"])
def test_a_page_body_is_refused_the_moment_it_passes_its_byte_limit(make_client: MakeClient, padded: bool) -> None:
    # Given a peer whose one page would take hundreds of megabytes once read (256 MiB inflated, or 8 MB of spaces)
    body, headers = (
        (b'{"restore_record_response": [], "total_num": 0' + b" " * 8_000_000 + b"}", {})
        if padded
        else (gzip_bomb(256), {"Content-Encoding": "gzip"})
    )
    with canned_dcs(200, body, headers) as url:
        started = time.monotonic()
        # Then the read stops at the limit (4 MiB by default, counted after inflating): a named error, at once
        with pytest.raises(DcsInvalidResponseError, match="more than 4194304 bytes"):
            make_client(endpoint=url).list_restores(window_query())
    assert time.monotonic() - started < 3.0  # inflating 256 MiB, or reading 8 MB whole, would not stop there


def test_braces_quoted_in_a_remark_do_not_make_a_small_page_look_too_big(make_client: MakeClient) -> None:
    record = {"restore_id": "r-1", "status": "failed", "restore_remark": "{" * 40}
    body = json.dumps({"restore_record_response": [record], "total_num": 1}).encode()
    with canned_dcs(200, body) as url:
        page = make_client(endpoint=url).list_restores(window_query(offset=0, limit=1))
    assert [info.restore_remark for info in page.records] == ["{" * 40]


@pytest.mark.parametrize(("records", "what"), [(1_001, "1001 records"), (40_000, "more JSON objects")])
def test_a_page_with_more_records_than_asked_for_is_refused(make_client: MakeClient, records: int, what: str) -> None:
    # Given a peer that answers a page of 1,000 with more records than that (tiny ones, within the byte limit)
    listed = b",".join([b'{"restore_id":"r","status":"failed","x":{}}'] * records)
    body = b'{"restore_record_response":[' + listed + b'],"total_num":%d}' % records
    with canned_dcs(200, body) as url, pytest.raises(DcsInvalidResponseError, match=what):
        make_client(endpoint=url).list_restores(window_query())


def moved_on(statuses: tuple[str, str]) -> list[dict[str, Any]]:
    """15 records as DCS serves them (newest first) where the restore at index 3 shows up again at index 12,
    with the second of ``statuses`` (and that place's times)."""
    served = generate_records(15, failed_every=0)[::-1]  # the emulator serves the newest first
    served[3]["status"] = statuses[0]
    times = {name: served[12][name] for name in ("created_at", "updated_at")}
    served[12] = {**served[3], **times, "status": statuses[1]}
    return served


@pytest.mark.parametrize(
    ("statuses", "kept"),
    [(("restoring", "failed"), "failed"), (("waiting", "restoring"), "restoring"), (("failed", "restoring"), "failed")],
    ids=["restoring then failed", "waiting then restoring", "failed then restoring"],
)
def test_a_restore_seen_twice_keeps_its_place_and_its_most_advanced_status(
    make_client: MakeClient, statuses: tuple[str, str], kept: str
) -> None:
    # Given a window paged by 10 in which the restore at index 3 shows up again at 12, having moved on (or not)
    served = moved_on(statuses)
    with Emulator(served) as url:
        result = make_client(endpoint=url, page_size=10).list_restores(window_query())
    # Then it is read once, where it was first seen, with the later of its two statuses
    expected = [record["restore_id"] for index, record in enumerate(served) if index != 12]
    assert [record.restore_id for record in result.records] == expected
    assert result.records[3].status == kept
    assert result.invalid_records == []


def test_a_restore_reported_both_succeeded_and_failed_is_invalid_not_forwarded(make_client: MakeClient) -> None:
    # Given a window paged by 10 where the restore at index 3 has succeeded on page one and failed on page two
    served = moved_on(("succeed", "failed"))
    with Emulator(served) as url:
        result = make_client(endpoint=url, page_size=10).list_restores(window_query())
    # Then it is reported invalid, where DCS sent it the second time, and read as neither
    [contradiction] = result.invalid_records
    assert (contradiction.index, contradiction.restore_id) == (12, served[3]["restore_id"])
    assert "both succeed and failed" in contradiction.reason
    assert served[3]["restore_id"] not in {record.restore_id for record in result.records}
    assert result.counts[RestoreStatus.FAILED] == 0


def test_invalid_records_are_kept_up_to_the_cap_and_counted_beyond_it(make_client: MakeClient) -> None:
    # Given a window of 35 records paged by 10, 25 of them with a status DCS never sends
    records = generate_records(35)
    for record in records[:25]:
        record["status"] = "exploded"
    with Emulator(records) as url:
        result = make_client(endpoint=url, page_size=10, max_invalid_records=10).list_restores(window_query())
    # Then the first 10 are kept for the report, all 25 are counted, and the 10 good ones are read
    assert len(result.invalid_records) == 10
    assert result.invalid_total == 25
    assert [record.index for record in result.invalid_records] == sorted(
        record.index for record in result.invalid_records
    )
    assert len(result.records) == 10


# The peak is VmHWM, of this process's own memory: ru_maxrss would carry over the test runner's peak through exec.
MEASURE_READ = """
import re, sys
from dcs_restores import Credentials, DcsError, DcsRestoresClient, RestoreQuery
query = RestoreQuery.of(project_id="p", instance_id="i", begin_time="20240101000000", end_time="20240102000000")
try:
    DcsRestoresClient(sys.argv[1], Credentials("AK", "SK")).list_restores(query)
    outcome = "read"
except DcsError as error:
    outcome = type(error).__name__
with open("/proc/self/status") as status:
    peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
print(outcome, peak_kib // 1024)
"""


HOSTILE_PAGES: dict[str, Callable[[], tuple[bytes, dict[str, str]]]] = {  # built when their test runs
    "gzip bomb of 1 GiB": lambda: (gzip_bomb(1024), {"Content-Encoding": "gzip"}),
    "a page of a million records": lambda: (
        b'{"restore_record_response":[' + b",".join([b'{"restore_id":"r","status":"failed"}'] * 10**6),
        {},
    ),
    "100 MB of padding": lambda: (b'{"restore_record_response":[],"total_num":0' + b" " * 100_000_000 + b"}", {}),
}


@pytest.mark.long
@pytest.mark.parametrize("page", list(HOSTILE_PAGES))
def test_a_hostile_page_never_takes_the_client_past_256_mib(page: str) -> None:
    # Given a peer whose page would take a gigabyte or more once read and validated
    body, headers = HOSTILE_PAGES[page]()
    with canned_dcs(200, body, headers) as url:
        # When a fresh interpreter reads the window from it
        done = subprocess.run(
            [sys.executable, "-c", MEASURE_READ, url], capture_output=True, text=True, timeout=60, check=True
        )
    # Then it refuses the page by name, and its peak memory stays far from the function's 512 MB
    outcome, peak_mib = done.stdout.split()
    assert outcome == "DcsInvalidResponseError"
    assert int(peak_mib) < 256
