"""The emulator answers as the vendor documents: checked with raw signed requests."""

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from dcs_restores import Credentials, DcsRestoresClient
from dcs_restores.signing import canonical_query, sign
from devkit.cli import main
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from devkit.seed import generate_fleet, generate_records

from ..support import window_query
from .signed_requests import INSTANCES_PATH, PATH, get, signed_headers


@pytest.fixture
def url() -> Iterator[str]:
    with Emulator(generate_records(25)) as address:
        yield address


def test_defaults_are_offset_0_and_limit_10(url: str) -> None:
    response = get(url, [])
    body = response.json()
    assert response.status_code == 200
    assert body["total_num"] == 25
    assert len(body["restore_record_response"]) == 10
    assert response.headers["X-Request-Id"]


def test_records_keep_the_vendors_quirks(url: str) -> None:
    records = get(url, [("limit", "25")]).json()["restore_record_response"]
    assert {record["error_code"].__class__ for record in records} == {dict, str}
    assert all(isinstance(record["progress"], str) for record in records)


def test_offset_past_the_end_is_an_empty_page_not_204(url: str) -> None:
    response = get(url, [("offset", "40")])
    assert response.status_code == 200
    assert response.json() == {"restore_record_response": [], "total_num": 25}


def test_the_example_urls_begin_Time_spelling_is_accepted(url: str) -> None:  # noqa: N802 - the vendor's spelling
    body = get(url, [("begin_Time", "20240101020000"), ("end_Time", "20240101030000")]).json()
    assert body["total_num"] == 7  # 02:06 ... 02:48: one every 7 minutes, 25 seeded


def test_no_match_is_204_with_no_body(url: str) -> None:
    response = get(url, [("begin_time", "20300101000000")])
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize(
    "params",
    [[("limit", "0")], [("limit", "1001")], [("offset", "-1")], [("offset", "x")], [("begin_time", "2024-01-01")]],
)
def test_bad_parameters_get_the_documented_400_body(url: str, params: list[tuple[str, str]]) -> None:
    response = get(url, params)
    assert response.status_code == 400
    body: dict[str, Any] = response.json()
    assert set(body) == {"error_code", "error_msg", "error_ext_msg"}
    assert body["error_ext_msg"] is None
    assert params[0][0] in body["error_msg"]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"sk": "wrong"}, "signature does not match"),
        ({"skew": timedelta(minutes=16)}, "15 minutes"),
        ({"project_id": "ffffffffffffffffffffffffffffffff"}, "X-Project-Id"),
    ],
)
def test_bad_signatures_get_401(url: str, options: dict[str, Any], reason: str) -> None:
    response = get(url, [], **options)
    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"
    assert reason in response.json()["error_msg"]


def test_an_unsigned_request_gets_401(url: str) -> None:
    response = requests.get(f"{url}{PATH}", timeout=5)
    assert response.status_code == 401
    assert "missing Authorization" in response.json()["error_msg"]


def test_a_tampered_query_breaks_the_signature(url: str) -> None:
    query = canonical_query([("limit", "5")])
    headers = sign(Credentials(DEFAULT_AK, DEFAULT_SK), "GET", url[7:], PATH, query, {}, now=datetime.now(UTC))
    headers["X-Project-Id"] = DEFAULT_PROJECT_ID
    response = requests.get(f"{url}{PATH}?limit=6", headers=headers, timeout=5)
    assert response.status_code == 401


@pytest.mark.parametrize("required", [None, "STS-TOKEN"], ids=["no token required", "this token required"])
def test_a_security_token_sent_but_not_signed_gets_401(required: str | None) -> None:
    # Given an emulator that requires no token, or exactly this one
    with Emulator(generate_records(3), security_token=required) as url:

        def signed(credentials: Credentials) -> dict[str, str]:
            query = canonical_query([])
            return signed_headers(url, query, credentials=credentials, project_id=DEFAULT_PROJECT_ID, skew=timedelta(0))

        signed_with_token = signed(Credentials(DEFAULT_AK, DEFAULT_SK, "STS-TOKEN"))
        assert "x-security-token" in signed_with_token["Authorization"]
        assert requests.get(f"{url}{PATH}", headers=signed_with_token, timeout=5).status_code == 200
        # When the same token rides along on a request signed without it (the signature itself is good)
        unsigned_token = signed(Credentials(DEFAULT_AK, DEFAULT_SK))
        assert "x-security-token" not in unsigned_token["Authorization"]
        unsigned_token["X-Security-Token"] = "STS-TOKEN"
        response = requests.get(f"{url}{PATH}", headers=unsigned_token, timeout=5)
    # Then it is refused like any other signature failure
    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"
    assert "X-Security-Token was sent but not signed" in response.json()["error_msg"]


def test_another_project_is_refused(url: str) -> None:
    other = "ffffffffffffffffffffffffffffffff"
    response = get(url, [], path=f"/v2/{other}/instances/{DEFAULT_INSTANCE_ID}/restores", project_id=other)
    assert response.status_code == 401


def test_other_paths_are_404(url: str) -> None:
    response = requests.get(f"{url}/v2/{DEFAULT_PROJECT_ID}/instances/{DEFAULT_INSTANCE_ID}/backups", timeout=5)
    assert response.status_code == 404
    assert response.json()["error_code"] == "APIGW.0101"


def test_the_command_line_emulator_serves_the_client() -> None:
    # Given the emulator started from the command line on a free port
    process = subprocess.Popen(
        [sys.executable, "-m", "devkit", "emulator", "--records", "12"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(6)]
        settings = dict(line.strip().split("=", 1) for line in banner if "=" in line)
        # When the library client reads from it with the credentials it printed
        with DcsRestoresClient(settings["DCS_ENDPOINT"], Credentials(settings["DCS_AK"], settings["DCS_SK"])) as client:
            result = client.list_restores(window_query(project_id=settings["DCS_PROJECT_ID"]))
        # Then the seeded records come back
        assert len(result.records) == 12
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_the_command_line_emulator_reports_a_bad_fixture(tmp_path: Any) -> None:
    fixture = tmp_path / "broken.json"
    fixture.write_text(json.dumps({"restore_record_response": "nope"}))
    done = subprocess.run(
        [sys.executable, "-m", "devkit", "emulator", "--fixture", str(fixture)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "cannot read the fixture" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_command_line_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator() as busy:
        port = int(busy.rsplit(":", 1)[1])
        assert main(["emulator", "--port", str(port)]) == 2
    assert f"cannot listen on port {port}" in capsys.readouterr().err


def test_the_command_line_reports_a_missing_fixture(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--fixture", str(tmp_path / "absent.json")]) == 2
    assert "cannot read the fixture" in capsys.readouterr().err


def test_the_command_line_emulator_serves_a_seeded_fleet() -> None:
    # Given the emulator started from the command line with a fleet of 5, 3 records each
    process = subprocess.Popen(
        [sys.executable, "-m", "devkit", "emulator", "--fleet", "5", "--records", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(6)]
        settings = dict(line.strip().split("=", 1) for line in banner if "=" in line)
        url = settings["DCS_ENDPOINT"]
        # When the fleet is listed and the restores of its first instance read
        listed = get(url, [], path=INSTANCES_PATH).json()
        first = listed["instances"][0]["instance_id"]
        with DcsRestoresClient(url, Credentials(settings["DCS_AK"], settings["DCS_SK"])) as client:
            result = client.list_restores(window_query(instance_id=first))
        # Then the fleet and its records are the seeded ones, and the banner says so
        assert listed["instance_num"] == 5
        assert [instance["instance_id"] for instance in listed["instances"]] == ids(generate_fleet(5))
        assert len(result.records) == 3
        assert f"fleet: 5 instances (3 records each), the first {first}" in banner[-1]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    "options",
    [["--fleet", "3", "--fixture", "records.json"], ["--fleet", "3", "--instance-id", "abc"], ["--fleet", "-1"]],
)
def test_the_command_line_refuses_a_fleet_it_cannot_seed(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emulator", *options]) == 2
    assert "--fleet" in capsys.readouterr().err


def test_without_a_fleet_the_command_line_serves_the_one_instance_it_names() -> None:
    other = "c1c2c3d4-0000-1111-2222-333344445555"
    process = subprocess.Popen(
        [sys.executable, "-m", "devkit", "emulator", "--records", "2", "--instance-id", other],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(6)]
        settings = dict(line.strip().split("=", 1) for line in banner if "=" in line)
        listed = get(settings["DCS_ENDPOINT"], [], path=INSTANCES_PATH).json()
        assert ids(listed["instances"]) == [other]
        assert f"instance: {other} (2 records)" in banner[-1]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def ids(instances: list[dict[str, Any]]) -> list[str]:
    return [instance["instance_id"] for instance in instances]
