"""pip-audit over the pinned dependencies, skipped on a machine that no advisory database answers.

``python -m ci.audit`` (part of ``make security``) first audits one pin with published advisories,
the probe. If no vulnerability comes back (the database cannot be reached, does not answer in time, or
answers without them), it prints one ``pip-audit: skipped: ...`` line and exits 0: an audit that cannot
see advisories would pass without meaning it. Otherwise it audits both lock files and the two files
that ship (the layer's and the function's requirements) with ``--strict``, so that a pin which cannot be
audited fails as well, and exits with pip-audit's status.

Every pin is exact, so pip-audit runs with ``--no-deps --disable-pip``: nothing is resolved or installed.
"""

from __future__ import annotations

import argparse
import json
import subprocess  # pip-audit is run with an argument list, never through a shell  # nosec B404
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = (
    "requirements.lock",
    "requirements-dev.lock",
    "layers/dcs_restores/requirements.txt",
    "functions/requirements.txt",
)
# Published advisories (CVE-2018-18074 and later ones): any database that answers reports this pin.
PROBE_PIN = "requests==2.19.0"
REQUEST_TIMEOUT = 15  # seconds: pip-audit's socket timeout, per request
PROBE_TIMEOUT = 60.0  # seconds for the whole probe
AUDIT_TIMEOUT = 600.0  # seconds for the whole audit: one request per pin, about 120 pins in both lock files
# How pip-audit's output names a service it could not reach (its own errors and requests' exceptions).
UNREACHABLE_MARKERS = (
    "ConnectionError",
    "Timeout",
    "NameResolutionError",
    "SSLError",
    "ProxyError",
    "ServiceError",
    "Could not connect",
)
SKIPPED = "pip-audit: skipped: the advisory database (PyPI/OSV) cannot be reached from this machine: "
MAX_REASON = 300


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], float], Completed]
"""Runs a command within a time limit (seconds); raises ``subprocess.TimeoutExpired`` past it."""


def run(command: Sequence[str], timeout: float) -> Completed:
    done = subprocess.run(  # noqa: S603 - pip-audit with arguments built here  # nosec B603
        list(command), capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
    )
    return Completed(done.returncode, done.stdout, done.stderr)


class ProbeError(Exception):
    """The probe failed for another reason than the network: pip-audit itself is broken."""


@dataclass(frozen=True)
class Probe:
    reachable: bool
    reason: str = ""  # why not, when not


def interpret_probe(done: Completed) -> Probe:
    """What the probe's JSON report, or its error output, says about the advisory database."""
    report = _json(done.stdout)
    if report is not None:
        dependencies = report.get("dependencies")
        if not isinstance(dependencies, list) or not dependencies:
            raise ProbeError(f"unexpected report from pip-audit: {_one_line(done.stdout)}")
        for dependency in dependencies:
            if isinstance(dependency, dict) and dependency.get("vulns"):
                return Probe(reachable=True)
        skipped = [str(dep["skip_reason"]) for dep in dependencies if isinstance(dep, dict) and "skip_reason" in dep]
        if skipped:
            return Probe(False, f"probing with {PROBE_PIN}: {_one_line(skipped[0])}")
        return Probe(False, f"probing with {PROBE_PIN}: the answer had none of its known vulnerabilities")
    last = _last_line(done.stderr)
    if any(marker in done.stderr for marker in UNREACHABLE_MARKERS):
        return Probe(False, f"probing with {PROBE_PIN}: {last}")
    raise ProbeError(f"the probe ended with status {done.returncode}: {last or 'no output'}")


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return _one_line(lines[-1]) if lines else ""


@dataclass(frozen=True)
class Auditor:
    service: str = "pypi"
    osv_url: str | None = None
    runner: Runner = run

    def command(self, *arguments: str) -> list[str]:
        command = [sys.executable, "-m", "pip_audit", "--no-deps", "--disable-pip", "--progress-spinner", "off"]
        command += ["--timeout", str(REQUEST_TIMEOUT), "--vulnerability-service", self.service]
        if self.osv_url:
            command += ["--osv-url", self.osv_url]
        return [*command, *arguments]

    def probe_command(self, requirements: Path, cache_dir: Path) -> list[str]:
        # Not --strict: a pin the service cannot audit is reported in the JSON, which says why.
        # A fresh cache: the probe asks the database now, not what the pip cache remembers.
        return self.command("--format", "json", "--cache-dir", str(cache_dir), "-r", str(requirements))

    def audit_command(self, requirements: Sequence[Path]) -> list[str]:
        return self.command("--strict", *(argument for path in requirements for argument in ("-r", str(path))))

    def probe(self) -> Probe:
        with tempfile.TemporaryDirectory(prefix="pip-audit-probe-") as scratch:
            pin = Path(scratch) / "probe.txt"
            pin.write_text(f"{PROBE_PIN}\n")
            try:
                done = self.runner(self.probe_command(pin, Path(scratch) / "cache"), PROBE_TIMEOUT)
            except subprocess.TimeoutExpired:
                return Probe(False, f"probing with {PROBE_PIN}: no answer within {PROBE_TIMEOUT:g} s")
        return interpret_probe(done)

    def audit(self, requirements: Sequence[Path]) -> int:
        """Probe, then audit ``requirements``; what ``make security`` should exit with."""
        try:
            probe = self.probe()
        except ProbeError as error:
            print(f"pip-audit: failed: {error}", file=sys.stderr)
            return 2
        if not probe.reachable:
            print(SKIPPED + probe.reason)
            return 0
        try:
            done = self.runner(self.audit_command(requirements), AUDIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"pip-audit: failed: the audit did not finish within {AUDIT_TIMEOUT:g} s", file=sys.stderr)
            return 1
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return done.returncode


def main(argv: Sequence[str] | None = None, runner: Runner = run) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ci.audit",
        description="pip-audit over the pinned dependencies, skipped where no advisory database answers.",
    )
    parser.add_argument(
        "requirements", nargs="*", type=Path, help="requirements files (default: the lock and what ships)"
    )
    parser.add_argument("--service", choices=["pypi", "osv"], default="pypi", help="pip-audit's advisory database")
    parser.add_argument("--osv-url", help="the OSV query endpoint, for --service osv (default: pip-audit's)")
    args = parser.parse_args(argv)
    requirements: list[Path] = args.requirements or [ROOT / path for path in REQUIREMENTS]
    missing = [str(path) for path in requirements if not path.is_file()]
    if missing:
        print(f"pip-audit: failed: no such requirements file: {', '.join(missing)}", file=sys.stderr)
        return 2
    return Auditor(args.service, args.osv_url, runner).audit(requirements)


if __name__ == "__main__":
    sys.exit(main())
