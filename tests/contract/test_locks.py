"""The two lock files: what `make run` installs (the runtime and the dev kit) and what `make test` adds."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

TOOLCHAIN = {"pytest", "ruff", "mypy", "bandit", "pip-audit", "hypothesis", "schemathesis", "huaweicloudsdkcore"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, equals, version = line.partition("==")
            assert equals, f"{path.name}: not an exact pin: {line}"
            found[normalise(name)] = version.strip()
    return found


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return normalise(match[0])


RUN, DEV = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-dev.lock")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_lock_files_pin_each_package_once() -> None:
    assert not RUN.keys() & DEV.keys()


def test_make_run_gets_the_runtime_and_the_dev_kit_and_no_toolchain() -> None:
    runtime = {requirement_name(requirement) for requirement in PYPROJECT["project"]["dependencies"]}
    devkit = {requirement_name(requirement) for requirement in PYPROJECT["dependency-groups"]["devkit"]}
    assert runtime | devkit <= RUN.keys()
    assert not TOOLCHAIN & RUN.keys()


def test_make_test_gets_the_whole_dev_group() -> None:
    dev = {requirement_name(item) for item in PYPROJECT["dependency-groups"]["dev"] if isinstance(item, str)}
    assert dev >= TOOLCHAIN
    assert dev <= RUN.keys() | DEV.keys()
    assert {"include-group": "devkit"} in PYPROJECT["dependency-groups"]["dev"]


@pytest.mark.parametrize("shipped", ["layers/dcs_restores/requirements.txt", "functions/requirements.txt"])
def test_what_ships_is_pinned_as_the_lock_pins_it(shipped: str) -> None:
    for line in (ROOT / shipped).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert RUN[requirement_name(name)] == version.strip(), line


@pytest.mark.parametrize(("target", "installs"), [("run", ["requirements.lock"]), ("test", ["requirements-dev.lock"])])
def test_each_make_target_installs_its_lock_on_a_clean_clone(tmp_path: Path, target: str, installs: list[str]) -> None:
    # `make -n` prints what a clean clone (no .venv) would run, without running it
    make = shutil.which("make")
    assert make is not None
    done = subprocess.run(
        [make, "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    commands = [line for line in done.stdout.splitlines() if "pip install" in line]
    installed = {lock for command in commands for lock in re.findall(r"-r (\S+)", command)}
    assert set(installs) <= installed
    if target == "run":
        assert installed == {"requirements.lock"}  # nothing of the toolchain
        assert any("--no-deps -e ." in command for command in commands)
