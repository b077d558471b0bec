"""The ``dcs-restore-watch`` command in subprocesses, as a user runs it: embedded default, real HTTP."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devkit.emulator import DEFAULT_AK, DEFAULT_PROJECT_ID, Emulator
from devkit.local import printable_endpoint
from devkit.seed import generate_records

from ..support import CLI, EVENTS, ROOT, clean_environment

# What `invoke` does with each event file: exit code, and whether stdout holds the handler's result
EXPECTED_EXIT = {name: (1 if name.startswith("bad-") else 0) for name in (p.name for p in EVENTS.glob("*.json"))}


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=clean_environment(), cwd=ROOT, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def invoked() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every events/ file through `invoke`, a few at a time."""
    names = sorted(EXPECTED_EXIT)
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = pool.map(lambda name: run_cli("invoke", f"events/{name}"), names)
        return dict(zip(names, done, strict=True))


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(EXPECTED_EXIT))
def test_invoke_runs_every_event_file(name: str, invoked: dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = invoked[name]
    assert done.returncode == EXPECTED_EXIT[name], done.stderr
    assert "Traceback" not in done.stderr
    assert "embedded default" in done.stderr
    if done.returncode == 0:
        result = json.loads(done.stdout)  # stdout is the handler's return value and nothing else
        report = json.loads(result["body"]) if "body" in result else result
        if "openapi" not in report:
            assert "forwarded" in report
            assert "done in" in done.stderr
            read = sum(report["counts"].values())
            assert f"{report['instance_id']}: {read} records (" in done.stderr
            reduced = f"records in payload: {report['records_included']}" in done.stderr
            assert reduced == (report["records_included"] != "all")
    else:
        assert done.stdout.strip() == "" or json.loads(done.stdout)["statusCode"] == 400
        assert re.search(r"dcs-restore-watch: (InvalidQueryError|UnknownEventError|HTTP 400)", done.stderr)


def test_invoke_prints_what_arrived_in_the_embedded_queue() -> None:
    done = run_cli("invoke", "events/direct-invoke.json")
    result = json.loads(done.stdout)
    failed = [record["restore_id"] for record in result["records"] if record["status"] == "failed"]
    assert f"the embedded queue now holds {len(failed)} failed restore(s)" in done.stderr
    for restore_id in failed:
        assert restore_id in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoke", "events/no-such-file.json"], "cannot read events/no-such-file.json"),
        (["invoke", "README.md"], "README.md is not valid JSON"),
        (["invoke", "DEEP"], "nests deeper than this command reads"),
    ],
)
def test_bad_usage_is_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    if args[-1] == "DEEP":  # an event nested 100,000 deep
        deep = tmp_path / "deep.json"
        deep.write_text("[" * 100_000 + "]" * 100_000)
        args, message = [args[0], str(deep)], f"{deep} {message}"
    done = run_cli(*args)
    assert done.returncode == 2
    assert done.stderr.strip() == f"dcs-restore-watch: {message}" or done.stderr.startswith(
        f"dcs-restore-watch: {message}"
    )
    assert len(done.stderr.strip().splitlines()) == 1


def test_serve_answers_a_valid_query(served: str) -> None:
    response = requests.get(
        f"{served}/instances/a1b2c3d4-0000-1111-2222-333344445555/restores",
        params={"begin_time": "20240101000000", "end_time": "2024-01-01T06:00:00Z"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["total"] == 40
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("method", ["POST", "HEAD", "DELETE", "QUERY"])
def test_serve_answers_unrouted_methods_as_api_gateway_does(served: str, method: str) -> None:
    url = f"{served}/instances/a1b2c3d4-0000-1111-2222-333344445555/restores"
    response = requests.request(method, url, data=b"x" * 100_000 if method == "POST" else None, timeout=30)
    assert response.status_code == 404
    assert response.content == (b"" if method == "HEAD" else b'{"message":"Not Found"}')
    # And the server still answers afterwards (an unread body did not wedge it)
    assert requests.get(f"{served}/openapi.json", timeout=30).status_code == 200


def test_serve_answers_a_bad_query_with_400(served: str) -> None:
    response = requests.get(
        f"{served}/instances/a1b2c3d4-0000-1111-2222-333344445555/restores",
        params={"begin_time": "20240102000000", "end_time": "20240101000000"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"field": "begin_time"}


def test_serve_serves_the_openapi_document(served: str) -> None:
    document = requests.get(f"{served}/openapi.json", timeout=30).json()
    parameters = document["paths"]["/instances/{instance_id}/restores"]["get"]["parameters"]
    assert {parameter["name"] for parameter in parameters} >= {"instance_id", "begin_time", "end_time", "limit"}


def test_serve_reports_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = run_cli("serve", "--port", str(busy.getsockname()[1]), timeout=60)
    assert done.returncode == 2
    assert "cannot listen on port" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.long
def test_the_readme_quick_start_works_as_written() -> None:
    # Given the commands the README's quick start shows
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", quick_start, flags=re.MULTILINE)
    assert commands == ["make run", "make sweep", "make serve", "make test"]
    # When the first two are run as written (serve runs until stopped, and its test runs `serve` itself; the last
    # is what CI runs around this very test)
    run, sweep = (
        subprocess.run(
            command.split(), capture_output=True, text=True, env=clean_environment(), cwd=ROOT, timeout=300, check=False
        )
        for command in commands[:2]
    )
    # Then the first does the whole job on the embedded default (its time is for `make bench`, not a test)
    assert run.returncode == 0, run.stderr
    assert "failed restores queued" in run.stderr
    payload, _ = json.JSONDecoder().raw_decode(run.stdout[run.stdout.index("{") :])  # after make's echo
    assert payload["forwarded"]["queued"] > 0
    # And the second sweeps the embedded fleet and prints its summary
    assert sweep.returncode == 0, sweep.stderr
    summary, _ = json.JSONDecoder().raw_decode(sweep.stdout[sweep.stdout.index("{") :])
    assert summary["instances_watched"] > 40
    assert summary["failed_restores_queued"] > 0
    assert f"swept {summary['instances_watched']} instances" in sweep.stderr


def test_bad_credentials_are_one_clear_line_and_no_secret() -> None:
    # Given a real (emulated) DCS that does not know the key pair given
    with Emulator(generate_records(5)) as url:
        environment = {**clean_environment(), "DCS_ENDPOINT": url, "DCS_PROJECT_ID": DEFAULT_PROJECT_ID}
        environment.update(DCS_AK=DEFAULT_AK, DCS_SK="not-the-right-secret")
        done = subprocess.run(
            [*CLI, "invoke", "events/direct-invoke.json"],
            capture_output=True,
            text=True,
            env=environment,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
    # Then the run fails with the error's name, and says nothing of the secret
    assert done.returncode == 1
    assert "dcs-restore-watch: DcsAuthError: DCS refused the credentials" in done.stderr
    assert "DCS is the local emulator" not in done.stderr  # the configured endpoint was used
    assert "not-the-right-secret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


# DCS reads the years 1000 to 9999: a time before them is refused in each format, by each way in
BEFORE_YEAR_1000 = ["00010101000000", "09991231000000", "0001-01-01T00:00:00Z", "0999-12-31T23:59:59Z"]
FIRST_OF_YEAR_1000 = ["10000101000000", "1000-01-01T00:00:00Z"]


@pytest.fixture(scope="module")
def invoked_in_year_1000() -> dict[str, subprocess.CompletedProcess[str]]:
    """`invoke --instance` with --begin at and before the first moment DCS reads, a few at a time."""
    instance = ["invoke", "--instance", "a1b2c3d4-0000-1111-2222-333344445555"]
    runs = {time: [*instance, "--begin", time, "--end", "10000102000000"] for time in BEFORE_YEAR_1000}
    runs |= {f"end {time}": [*instance, "--begin", "10000101000000", "--end", time] for time in BEFORE_YEAR_1000}
    runs |= {time: [*instance, "--begin", time, "--end", "10000102000000"] for time in FIRST_OF_YEAR_1000}
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(runs, pool.map(lambda args: run_cli(*args), runs.values()), strict=True))


@pytest.mark.parametrize("time", BEFORE_YEAR_1000)
def test_invoke_refuses_a_flag_before_year_1000_in_one_line_and_exits_2(
    invoked_in_year_1000: dict[str, subprocess.CompletedProcess[str]], time: str
) -> None:
    for key, flag in ((time, "--begin"), (f"end {time}", "--end")):
        done = invoked_in_year_1000[key]
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"dcs-restore-watch: {flag}: must be in the years 1000 to 9999 (UTC)\n"
        assert done.stdout == ""


@pytest.mark.parametrize("time", FIRST_OF_YEAR_1000)
def test_invoke_watches_the_first_day_dcs_reads(
    invoked_in_year_1000: dict[str, subprocess.CompletedProcess[str]], time: str
) -> None:
    done = invoked_in_year_1000[time]
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["window"] == {"begin": "1000-01-01T00:00:00Z", "end": "1000-01-02T00:00:00Z"}
    assert payload["total"] == 0


@pytest.mark.parametrize("time", BEFORE_YEAR_1000)
def test_serve_answers_a_time_before_year_1000_with_400_naming_it(served: str, time: str) -> None:
    path = f"{served}/instances/a1b2c3d4-0000-1111-2222-333344445555/restores"
    for params, field in (
        ({"begin_time": time, "end_time": "10000102000000"}, "begin_time"),
        ({"begin_time": "10000101000000", "end_time": time}, "end_time"),
    ):
        response = requests.get(path, params=params, timeout=30)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["details"], error["message"]) == (
            {"field": field},
            f"{field}: must be in the years 1000 to 9999 (UTC)",
        )


@pytest.mark.parametrize("time", FIRST_OF_YEAR_1000)
def test_serve_answers_the_first_day_dcs_reads(served: str, time: str) -> None:
    response = requests.get(
        f"{served}/instances/a1b2c3d4-0000-1111-2222-333344445555/restores",
        params={"begin_time": time, "end_time": "10000102000000"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["window"] == {"begin": "1000-01-01T00:00:00Z", "end": "1000-01-02T00:00:00Z"}


# Secrets planted where a DCS_ENDPOINT can carry them: the user part and the query
PLANTED = ("PLANTED-AK", "PLANTED-SK", "PLANTED-QUERY")
SECRET_ENDPOINT = "http://PLANTED-AK:PLANTED-SK@127.0.0.1:9/?sk=PLANTED-QUERY"
ENDPOINT_REFUSED = (
    "ConfigurationError: DCS_ENDPOINT: the DCS endpoint must be scheme and host only, with no path, query or user"
)


def with_secret_endpoint() -> dict[str, str]:
    environment = {**clean_environment(), "DCS_ENDPOINT": SECRET_ENDPOINT, "DCS_PROJECT_ID": DEFAULT_PROJECT_ID}
    return environment | {"DCS_AK": DEFAULT_AK, "DCS_SK": "not-the-planted-one"}


def serve_once(environment: dict[str, str], log: Path) -> tuple[requests.Response, str]:
    """`serve` with ``environment``: its answer to one query, and all it printed until it was stopped."""
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=stderr, text=True, env=environment, cwd=ROOT
        )
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            assert banner.startswith("serving the HTTP API on "), log.read_text()
            response = requests.get(
                f"{banner.split()[-1]}/instances/a1b2c3d4-0000-1111-2222-333344445555/restores",
                params={"begin_time": "20240101000000", "end_time": "20240102000000"},
                timeout=30,
            )
        finally:
            process.terminate()
            rest, _ = process.communicate(timeout=30)
    return response, banner + rest + log.read_text()


def test_no_command_prints_a_secret_planted_in_dcs_endpoint(tmp_path: Path) -> None:
    # Given a DCS_ENDPOINT with credentials in its user part and its query
    environment = with_secret_endpoint()
    runs = {
        "invoke": ["invoke", "events/direct-invoke.json"],
        "sweep": ["sweep"],
        "wait-for-restore": [
            "wait-for-restore",
            "a1b2c3d4-0000-1111-2222-333344445555",
            "r1",
            "--max-wait-seconds",
            "0",
        ],
    }

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=120, check=False
        )

    # When each command runs with it
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = dict(zip(runs, pool.map(run, runs.values()), strict=True))
    answer, served = serve_once(environment, tmp_path / "serve.log")

    # Then each refuses the endpoint as documented, by the variable's name
    assert done["invoke"].returncode == 1
    assert f"dcs-restore-watch: {ENDPOINT_REFUSED}\n" in done["invoke"].stderr
    assert done["sweep"].returncode == 1
    assert f"dcs-restore-watch: the sweep failed: {ENDPOINT_REFUSED} (" in done["sweep"].stderr
    assert done["wait-for-restore"].returncode == 1
    assert f"dcs-restore-watch: {ENDPOINT_REFUSED} (" in done["wait-for-restore"].stderr
    assert answer.status_code == 500
    assert answer.json()["error"]["details"] == {"variable": "DCS_ENDPOINT"}
    # And each says which DCS it was given without the secrets in it, and prints none of them anywhere
    outputs = {name: run.stdout + run.stderr for name, run in done.items()} | {"serve": served}
    for name, output in outputs.items():
        assert not [secret for secret in PLANTED if secret in output], f"{name} printed a planted secret:\n{output}"
        assert "dcs-restore-watch: DCS is http://127.0.0.1:9 (DCS_ENDPOINT; its user, path and query" in output, name
        assert "Traceback" not in output, name


@pytest.mark.parametrize(
    ("endpoint", "shown"),
    [
        ("https://dcs.example.com", "https://dcs.example.com"),
        ("http://[::1]:8443/", "http://[::1]:8443"),
        ("http://AK:SK@127.0.0.1:9/v2?sk=SK#SK", "http://127.0.0.1:9"),
        ("http://AK:S%2FK@dcs.example.com", "http://dcs.example.com"),
        # Where the host cannot be told from the secret, nothing is shown
        ("http://AK:S/K@dcs.example.com", None),  # a "/" in the password: the rest reads as a path
        ("http://AK:1234/K@dcs.example.com", None),  # ...even where the start reads as a port
        ("http://dcs.example.com/?sk=a@b", None),
        ("AK:SK@dcs.example.com", None),  # no scheme: "AK" would read as one
        ("http://[::1", None),
        ("dcs.example.com", None),
    ],
)
def test_an_endpoint_is_printed_as_its_scheme_host_and_port_only(endpoint: str, shown: str | None) -> None:
    assert printable_endpoint(endpoint) == shown
