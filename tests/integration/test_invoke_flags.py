"""`dcs-restore-watch invoke` with the event built from flags, read from stdin, shown as a table, in subprocesses."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from devkit.seed import generate_records

from ..support import CLI, EVENTS, ROOT, clean_environment

WINDOW = ["--begin", "20240101000000", "--end", "2024-01-01T06:00:00Z"]
INSTANCE = ["--instance", DEFAULT_INSTANCE_ID]


def invoke(*args: str, stdin: str | None = None, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "invoke", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean_environment(), **environment},
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def payload_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def test_an_instance_and_a_window_build_a_direct_invoke() -> None:
    payload = payload_of(invoke(*INSTANCE, *WINDOW))
    assert payload["instance_id"] == DEFAULT_INSTANCE_ID
    assert payload["window"] == {"begin": "2024-01-01T00:00:00Z", "end": "2024-01-01T06:00:00Z"}
    assert payload["total"] == 40  # the embedded default's seeded records, all in those six hours
    assert payload["records_included"] == "all"


def test_a_lookback_builds_a_window_that_ends_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    payload = payload_of(invoke(*INSTANCE, "--lookback", "PT6H"))
    after = datetime.now(UTC)
    end = datetime.fromisoformat(payload["window"]["end"])
    assert before <= end <= after
    assert datetime.fromisoformat(payload["window"]["begin"]) == end - timedelta(hours=6)


@pytest.mark.parametrize("records", ["failed", "none"])
def test_records_says_which_records_the_payload_carries(records: str) -> None:
    payload = payload_of(invoke(*INSTANCE, *WINDOW, "--records", records))
    assert payload["records_included"] == records
    expected = payload["counts"]["failed"] if records == "failed" else 0
    assert len(payload["records"]) == expected
    assert {record["status"] for record in payload["records"]} <= {"failed"}


def test_a_project_id_is_the_project_of_the_run() -> None:
    # The embedded emulator serves whichever project the run is for
    payload = payload_of(invoke(*INSTANCE, *WINDOW, "--project-id", "my-project"))
    assert payload["project_id"] == "my-project"
    assert payload["total"] == 40


def test_a_region_is_dcs_of_that_region_instead_of_the_emulator_or_an_endpoint() -> None:
    # Given an endpoint in the environment, and no credentials at all
    flags = ["--region", "cn-north-4", "--project-id", "my-project"]
    done = invoke(*INSTANCE, *WINDOW, *flags, DCS_ENDPOINT="https://dcs.example.com")
    # Then the run is for the region's DCS (the flag wins over the endpoint), and it fails on the credentials
    # before any request is made
    assert done.returncode == 1
    assert "dcs-restore-watch: DCS is https://dcs.cn-north-4.myhuaweicloud.com (DCS_REGION cn-north-4)" in done.stderr
    assert "local emulator" not in done.stderr
    assert "ConfigurationError: DCS_CREDENTIALS_SECRET: is required" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_dash_reads_the_event_from_stdin() -> None:
    event = (EVENTS / "direct-invoke.json").read_text()
    from_stdin = payload_of(invoke("-", stdin=event))
    from_file = payload_of(invoke(str(EVENTS / "direct-invoke.json")))
    assert from_stdin["records"] == from_file["records"]
    assert from_stdin["total"] == 40


def test_the_table_shows_each_record_and_the_counts() -> None:
    done = invoke(*INSTANCE, *WINDOW, "--records", "failed", "--output", "table")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["STATUS", "CREATED", "(UTC)", "UPDATED", "(UTC)", "DURATION", "RESTORE", "ID", "ERROR"]
    rows = lines[1 : lines.index("")]
    assert len(rows) == 8  # the embedded default's failed restores
    for row in rows:
        assert row.startswith("failed  2024-01-01 ")
    assert "The restore timed out." in done.stdout  # DCS's error code, in words
    assert "records: 40 (waiting 3, restoring 3, succeed 26, failed 8); DCS's total: 40" in lines
    assert "records shown: failed (the counts cover them all)" in lines
    assert "failed restores queued 8, already forwarded 0" in lines


def test_the_table_reads_an_http_answer_and_leaves_anything_else_as_json() -> None:
    done = invoke("events/http-get-window.json", "--output", "table")
    assert done.stdout.startswith("STATUS ")
    openapi = invoke("events/http-get-openapi.json", "--output", "table")
    assert json.loads(openapi.stdout)["statusCode"] == 200  # the OpenAPI document has no records to tabulate


def run_on_a_terminal(*args: str, **environment: str) -> str:
    """`invoke ARGS` with stderr on a pseudo-terminal: what it wrote there."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*CLI, "invoke", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**clean_environment(), **environment},
        cwd=ROOT,
    )
    os.close(follower)
    written: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                return
            if not chunk:
                return
            written.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        process.communicate(timeout=120)
    finally:
        reader.join(10)
        os.close(leader)
    return b"".join(written).decode()


def test_a_large_window_shows_its_pages_on_a_terminal_and_nowhere_else() -> None:
    # Given a DCS holding 2,500 records in one month: three pages of 1,000
    records = generate_records(2500, failed_every=0, step=timedelta(seconds=20))
    with Emulator(records) as url:
        environment = {"DCS_ENDPOINT": url, "DCS_PROJECT_ID": DEFAULT_PROJECT_ID, "DCS_AK": DEFAULT_AK}
        environment["DCS_SK"] = DEFAULT_SK
        flags = [*INSTANCE, "--begin", "20240101000000", "--end", "20240201000000", "--records", "none"]
        # When it is read with stderr on a terminal, Then the line counts the pages up, and is erased once read
        on_terminal = run_on_a_terminal(*flags, **environment)
        assert "\r\x1b[Kdcs-restore-watch: reading DCS pages 1/3" in on_terminal
        assert "\r\x1b[Kdcs-restore-watch: reading DCS pages 3/3\r\x1b[K" in on_terminal
        assert "2500 records" in on_terminal
        # And with stderr piped, there is no progress line at all
        piped = invoke(*flags, **environment)
    assert piped.returncode == 0, piped.stderr
    assert "reading DCS pages" not in piped.stderr
    assert "\x1b" not in piped.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give an event file ('-' for stdin), or --instance with a window (--begin and --end, or --lookback)"),
        (["events/direct-invoke.json", *INSTANCE], "give an event file or --instance, not both"),
        (["events/direct-invoke.json", "--records", "failed"], "--records builds the event: it goes with --instance"),
        (["-", "--lookback", "PT1H"], "--lookback builds the event: it goes with --instance, not with an event file"),
        (INSTANCE, "--instance needs a window: --begin and --end, or --lookback"),
        ([*INSTANCE, "--begin", "20240101000000"], "--begin and --end go together"),
        ([*INSTANCE, "--end", "20240101000000"], "--begin and --end go together"),
        ([*INSTANCE, *WINDOW, "--lookback", "PT1H"], "give --begin and --end, or --lookback, not both"),
        (["--instance", "a/b", *WINDOW], "--instance: must be 1-64 letters, digits, - or _"),
        ([*INSTANCE, "--begin", "yesterday", "--end", "20240101000000"], "--begin: expected yyyyMMddHHmmss or ISO"),
        (
            [*INSTANCE, "--begin", "20240101000000", "--end", "2024-01-01T06:00:00"],
            "--end: a datetime needs a timezone",
        ),
        ([*INSTANCE, "--begin", "20240102000000", "--end", "20240101000000"], "--begin is after --end"),
        ([*INSTANCE, "--lookback", "6 hours"], "--lookback: must be an ISO 8601 duration such as PT6H, up to 366 days"),
        ([*INSTANCE, "--lookback=-PT1H"], "--lookback: must be an ISO 8601 duration such as PT6H, up to 366 days"),
        ([*INSTANCE, "--lookback", "P400D"], "--lookback: must be an ISO 8601 duration such as PT6H, up to 366 days"),
        (
            [*INSTANCE, *WINDOW, "--region", "Beijing"],
            "--region: must be a Huawei Cloud region name such as cn-north-4",
        ),
        ([*INSTANCE, *WINDOW, "--region", "cn-nrth-4"], "--region: 'cn-nrth-4' is not a region this version knows"),
        ([*INSTANCE, *WINDOW, "--project-id", "../x"], "--project-id: must be 1-64 letters, digits, - or _"),
        ([*INSTANCE, *WINDOW, "--records", "some"], "argument --records: invalid choice: 'some'"),
        ([*INSTANCE, *WINDOW, "--output", "xml"], "argument --output: invalid choice: 'xml'"),
        (
            [*INSTANCE, *WINDOW, "--lookback"],
            "argument --lookback: expected one argument (see dcs-restore-watch invoke --help)",
        ),
        (["-"], "stdin is not valid JSON: "),
    ],
)
def test_every_bad_flag_is_one_clear_line_and_nothing_runs(args: list[str], message: str) -> None:
    done = invoke(*args, stdin="not json")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()  # no usage block, no embedded default started
    assert line.startswith(f"dcs-restore-watch: {message}")
    assert done.stdout == ""


def test_an_event_file_that_is_not_text_is_one_clear_line(tmp_path: Path) -> None:
    binary = tmp_path / "event.json"
    binary.write_bytes(b"\xff\xfe{}")
    done = invoke(str(binary))
    assert done.returncode == 2
    assert done.stderr == f"dcs-restore-watch: {binary} is not UTF-8 text\n"
