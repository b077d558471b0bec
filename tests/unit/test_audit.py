"""The dependency audit of `make security`: what the probe's answer means, and what the audit exits with.

Most tests inject the runner with pip-audit's real answers (JSON reports and error output as it prints
them); the last ones run the real pip-audit against an OSV stand-in on loopback, so both the reachable
and the unreachable paths are taken end to end without the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest

from ci.audit import (
    PROBE_PIN,
    PROBE_TIMEOUT,
    REQUIREMENTS,
    ROOT,
    SKIPPED,
    Auditor,
    Completed,
    Probe,
    ProbeError,
    interpret_probe,
    main,
    run,
)

# pip-audit 2.10's own output (tracebacks trimmed) where its services answer, refuse or are out of reach.
PYPI_NOT_FOUND = json.dumps(
    {
        "dependencies": [
            {
                "name": "requests",
                "skip_reason": "Dependency not found on PyPI and could not be audited: requests (2.19.0)",
            }
        ],
        "fixes": [],
    }
)
PROBE_VULNERABLE = json.dumps(
    {
        "dependencies": [
            {
                "name": "requests",
                "version": "2.19.0",
                "vulns": [{"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"], "aliases": ["CVE-2018-18074"]}],
            }
        ],
        "fixes": [],
    }
)
PROBE_CLEAN = json.dumps({"dependencies": [{"name": "requests", "version": "2.19.0", "vulns": []}], "fixes": []})
DNS_FAILURE = "".join(
    [
        "WARNING:pip_audit._cli:--no-deps is supported, but users are encouraged to fully hash their pins\n",
        "Traceback (most recent call last):\n",
        '  File "pip_audit/_service/osv.py", line 70, in query\n',
        "socket.gaierror: [Errno -2] Name or service not known\n",
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='osv.example', port=443): Max retries"
        " exceeded with url: /v1/query (Caused by NameResolutionError(\"Failed to resolve 'osv.example'\"))\n",
    ]
)
CONNECT_TIMEOUT = (
    "ERROR:pip_audit._cli:Could not connect to PyPI's vulnerability feed\n"
    "ERROR:pip_audit._cli:Tip: your network may be blocking this service. Try another service with `-s SERVICE`\n"
)
NOT_INSTALLED = "python: No module named pip_audit\n"
AUDIT_VULNERABLE = (
    "Name    Version ID             Fix Versions\n"
    "------- ------- -------------- ------------\n"
    "urllib3 2.8.0   GHSA-test-0001 2.9.0\n"
)


@dataclass
class ScriptedRunner:
    """Answers each command with the next scripted result (a Completed, or an exception to raise)."""

    answers: list[Completed | Exception]
    calls: list[tuple[list[str], float]] = field(default_factory=list)

    def __call__(self, command: Sequence[str], timeout: float) -> Completed:
        self.calls.append((list(command), timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def shipped() -> list[Path]:
    return [ROOT / path for path in REQUIREMENTS]


# What the probe's answer means


def test_a_vulnerability_in_the_probe_means_the_database_answers() -> None:
    assert interpret_probe(Completed(1, PROBE_VULNERABLE, "Found 1 known vulnerability in 1 package\n")) == Probe(True)


@pytest.mark.parametrize(
    ("done", "reason"),
    [
        (Completed(0, PYPI_NOT_FOUND, ""), "Dependency not found on PyPI and could not be audited: requests (2.19.0)"),
        (Completed(1, "", DNS_FAILURE), "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='osv.example'"),
        (Completed(1, "", CONNECT_TIMEOUT), "Tip: your network may be blocking this service."),
        (Completed(0, PROBE_CLEAN, ""), "the answer had none of its known vulnerabilities"),
    ],
    ids=["pypi-not-found", "dns-failure", "connect-timeout", "answer-without-advisories"],
)
def test_an_unaudited_probe_means_the_database_cannot_be_reached(done: Completed, reason: str) -> None:
    probe = interpret_probe(done)
    assert not probe.reachable
    assert probe.reason.startswith(f"probing with {PROBE_PIN}: ")
    assert reason in probe.reason
    assert "\n" not in probe.reason


def test_a_long_error_is_cut_to_one_short_line() -> None:
    probe = interpret_probe(Completed(1, "", "requests.exceptions.ReadTimeout: " + "x" * 1000 + "\n"))
    assert not probe.reachable
    assert len(probe.reason) < 400
    assert probe.reason.endswith("...")


@pytest.mark.parametrize(
    "done",
    [
        Completed(1, "", NOT_INSTALLED),
        Completed(2, "", "usage: pip-audit [-h]\npip-audit: error: unrecognized arguments: --bogus\n"),
        Completed(1, "", ""),
        Completed(0, json.dumps({"dependencies": []}), ""),
        Completed(0, "[]", "no JSON object"),
    ],
    ids=["not-installed", "usage-error", "silent", "empty-report", "not-a-report"],
)
def test_a_probe_broken_for_another_reason_is_an_error_not_a_skip(done: Completed) -> None:
    with pytest.raises(ProbeError):
        interpret_probe(done)


# The command lines


def test_the_probe_audits_the_known_vulnerable_pin_alone_as_json_with_a_fresh_cache() -> None:
    runner = ScriptedRunner([Completed(1, PROBE_VULNERABLE, "")])
    assert Auditor(runner=runner).probe() == Probe(True)
    [(command, timeout)] = runner.calls
    assert command[:3] == [sys.executable, "-m", "pip_audit"]
    assert {"--no-deps", "--disable-pip"} <= set(command)
    assert "--strict" not in command  # an unauditable probe must come back as a report that says why
    assert command[command.index("--format") + 1] == "json"
    assert command[command.index("--timeout") + 1] == "15"
    assert command[command.index("--vulnerability-service") + 1] == "pypi"
    assert Path(command[command.index("--cache-dir") + 1]).name == "cache"
    assert Path(command[command.index("-r") + 1]).name == "probe.txt"
    assert timeout == PROBE_TIMEOUT


def test_the_audit_is_strict_over_the_lock_and_both_shipped_files() -> None:
    command = Auditor(service="osv", osv_url="http://127.0.0.1:9/v1/query").audit_command(shipped())
    assert {"--no-deps", "--disable-pip", "--strict"} <= set(command)
    assert command[command.index("--osv-url") + 1] == "http://127.0.0.1:9/v1/query"
    files = [command[index + 1] for index, argument in enumerate(command) if argument == "-r"]
    assert files == [str(ROOT / path) for path in REQUIREMENTS]
    assert REQUIREMENTS[:2] == ("requirements.lock", "requirements-dev.lock")
    assert all(Path(path).is_file() for path in files)


def test_pip_audit_accepts_both_command_lines_offline(tmp_path: Path) -> None:
    """--dry-run collects the requirements without asking any database: the flags and files are valid."""
    auditor = Auditor()
    done = run([*auditor.audit_command(shipped()), "--dry-run"], 120)
    assert done.returncode == 0, done.stderr
    assert "would have audited" in done.stderr
    probe = run([*auditor.probe_command(ROOT / "requirements.lock", tmp_path / "cache"), "--dry-run"], 120)
    assert probe.returncode == 0, probe.stderr
    assert "dependencies" in json.loads(probe.stdout)


# What `make security` exits with


def test_unreachable_prints_one_skip_line_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    runner = ScriptedRunner([Completed(0, PYPI_NOT_FOUND, "")])
    assert main([], runner=runner) == 0
    assert capsys.readouterr().out == (
        "pip-audit: skipped: the advisory database (PyPI/OSV) cannot be reached from this machine: "
        "probing with requests==2.19.0: Dependency not found on PyPI and could not be audited: requests (2.19.0)\n"
    )
    assert len(runner.calls) == 1  # the audit itself is not attempted


def test_a_probe_without_an_answer_in_time_is_a_skip(capsys: pytest.CaptureFixture[str]) -> None:
    runner = ScriptedRunner([subprocess.TimeoutExpired("pip-audit", PROBE_TIMEOUT)])
    assert main([], runner=runner) == 0
    assert capsys.readouterr().out == f"{SKIPPED}probing with {PROBE_PIN}: no answer within 60 s\n"


def test_reachable_and_clean_passes(capsys: pytest.CaptureFixture[str]) -> None:
    runner = ScriptedRunner([Completed(1, PROBE_VULNERABLE, ""), Completed(0, "", "No known vulnerabilities found\n")])
    assert main([], runner=runner) == 0
    audit, timeout = runner.calls[1]
    assert audit == Auditor().audit_command(shipped())
    assert timeout == 600
    assert "No known vulnerabilities found" in capsys.readouterr().err


def test_reachable_and_vulnerable_fails_with_pip_audits_status_and_report(capsys: pytest.CaptureFixture[str]) -> None:
    runner = ScriptedRunner([Completed(1, PROBE_VULNERABLE, ""), Completed(1, AUDIT_VULNERABLE, "Found 1 known\n")])
    assert main([], runner=runner) == 1
    assert "urllib3 2.8.0   GHSA-test-0001" in capsys.readouterr().out


def test_reachable_but_a_pin_cannot_be_audited_fails() -> None:
    strict = Completed(1, "", "ERROR:pip_audit._cli:some-pin: Dependency not found on PyPI and could not be audited\n")
    assert main([], runner=ScriptedRunner([Completed(1, PROBE_VULNERABLE, ""), strict])) == 1


def test_an_audit_that_does_not_finish_in_time_fails(capsys: pytest.CaptureFixture[str]) -> None:
    runner = ScriptedRunner([Completed(1, PROBE_VULNERABLE, ""), subprocess.TimeoutExpired("pip-audit", 600)])
    assert main([], runner=runner) == 1
    assert "did not finish within 600 s" in capsys.readouterr().err


def test_a_broken_probe_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], runner=ScriptedRunner([Completed(1, "", NOT_INSTALLED)])) == 2
    assert "pip-audit: failed: the probe ended with status 1: python: No module named pip_audit" in (
        capsys.readouterr().err
    )


def test_a_missing_requirements_file_fails_before_any_probe(tmp_path: Path) -> None:
    runner = ScriptedRunner([])
    assert main([str(tmp_path / "missing.txt")], runner=runner) == 2
    assert runner.calls == []


def test_the_real_runner_returns_output_and_enforces_its_time_limit() -> None:
    done = run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"], 30)
    assert done == Completed(3, "out\n", "err\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run([sys.executable, "-c", "import time; time.sleep(30)"], 0.5)


def test_the_module_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ci.audit", "no-such-requirements.txt"],
        cwd=ROOT,  # CI tooling is run from the repository root, not installed
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no such requirements file: no-such-requirements.txt" in done.stderr


# The real pip-audit against an OSV stand-in on loopback


class FakeOsv(ThreadingHTTPServer):
    """Answers OSV's POST /v1/query with one advisory for the pins in ``vulnerable``, or with ``status``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), OsvHandler)
        self.vulnerable: set[tuple[str, str]] = set()
        self.status = 200
        self.queries: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/query"


class OsvHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server = cast(FakeOsv, self.server)
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name, version = query["package"]["name"], query["version"]
        server.queries.append((name, version))
        answer: dict[str, object] = {}
        if (name, version) in server.vulnerable:
            affected = {
                "package": {"name": name, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9999"}]}],
            }
            answer = {"vulns": [{"id": f"GHSA-test-{name}", "summary": "test advisory", "affected": [affected]}]}
        body = json.dumps(answer if server.status == 200 else {"message": "unavailable"}).encode()
        self.send_response(server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def locked(name: str) -> tuple[str, str]:
    """``(name, version)`` of a pin in the lock files, as pip-audit asks OSV about it."""
    for lock in ("requirements.lock", "requirements-dev.lock"):
        for line in (ROOT / lock).read_text().splitlines():
            pinned, _, version = line.partition("==")
            if pinned.lower().replace("_", "-") == name:
                return name, version.strip()
    raise AssertionError(f"{name} is in neither lock file")


@pytest.fixture
def osv(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOsv]:
    for proxy_bypass in ("NO_PROXY", "no_proxy"):  # pip-audit runs with this environment
        monkeypatch.setenv(proxy_bypass, "127.0.0.1")
    server = FakeOsv()
    server.vulnerable.add(("requests", "2.19.0"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_end_to_end_reachable_and_clean_audits_every_pin(osv: FakeOsv, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--service", "osv", "--osv-url", osv.url]) == 0
    assert osv.queries[0] == ("requests", "2.19.0")  # the probe first
    audited = set(osv.queries[1:])
    assert {locked("urllib3"), locked("pydantic"), locked("aws-lambda-powertools"), locked("pytest")} <= audited
    assert len(audited) > 100  # both whole locks, not a sample
    assert "No known vulnerabilities found" in capsys.readouterr().err


def test_end_to_end_reachable_and_vulnerable_fails(osv: FakeOsv, capsys: pytest.CaptureFixture[str]) -> None:
    osv.vulnerable.add(locked("urllib3"))
    assert main(["--service", "osv", "--osv-url", osv.url]) == 1
    assert "GHSA-test-urllib3" in capsys.readouterr().out


def test_end_to_end_a_database_that_errors_is_a_skip(osv: FakeOsv, capsys: pytest.CaptureFixture[str]) -> None:
    osv.status = 503
    assert main(["--service", "osv", "--osv-url", osv.url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(SKIPPED)
    assert "ServiceError" in out
    assert out.count("\n") == 1
    assert osv.queries == [("requests", "2.19.0")]  # nothing audited after the probe


def test_end_to_end_a_refused_connection_is_a_skip(osv: FakeOsv, capsys: pytest.CaptureFixture[str]) -> None:
    closed = FakeOsv()
    url = closed.url
    closed.server_close()  # nothing listens there any more
    assert main(["--service", "osv", "--osv-url", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(SKIPPED)
    assert "ConnectionError" in out
