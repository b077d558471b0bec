"""The Lambda artifacts as ``sam build`` makes them, built without SAM the way SAM builds them.

For each function and the layer, SAM copies the resource's ``CodeUri`` (``__pycache__`` and all) to a
scratch folder and runs ``make build-<LogicalId>`` there with ``ARTIFACTS_DIR`` set: so does this module,
with the template's own paths and the default platform (arm64 wheels), then reads what was built. The
build runs with this interpreter; pip and the compiler are CPython 3.13's, found as the Makefile finds it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from ci import lambda_build
from ci.lambda_build import RUNTIME_CACHE_TAG, BuildError, check, runtime_python

from .conftest import ROOT, TEMPLATE

FUNCTIONS = ("RestoreWatchFunction", "DiscoverInstancesFunction", "SweepSummaryFunction")
LAYER = "DcsRestoresLayer"
# What each artifact carries of the repository's code; the rest is its requirements file.
PACKAGES = {
    LAYER: {"dcs_restores"},
    "RestoreWatchFunction": {"restore_watch", "common"},
    "DiscoverInstancesFunction": {"discover_instances", "common"},
    "SweepSummaryFunction": {"sweep_summary", "common"},
}
REQUIREMENTS = {
    LAYER: ROOT / "layers/dcs_restores/requirements.txt",
    "RestoreWatchFunction": ROOT / "functions/requirements.txt",
    "DiscoverInstancesFunction": ROOT / "functions/requirements.txt",
}
MAKE = shutil.which("make") or "make"
NOT_SHIPPED = ("boto3", "botocore", "s3transfer", "urllib3")  # a function's: the runtime's serve
# Computes, with CPython 3.13, the source hash each unchecked .pyc must hold (PEP 552).
SOURCE_HASHES = """
import importlib.util, json, sys
print(json.dumps({path: importlib.util.source_hash(open(path, "rb").read()).hex() for path in json.load(sys.stdin)}))
"""


def code_uri(logical_id: str) -> Path:
    resource = yaml_parse(TEMPLATE.read_text())["Resources"][logical_id]
    assert resource["Metadata"]["BuildMethod"] == "makefile"
    assert resource["Metadata"]["ContextPath"] == "."  # the Makefile at the root, where make is run from
    properties = resource["Properties"]
    return ROOT / str(properties.get("CodeUri") or properties["ContentUri"])


def make_build(logical_id: str, scratch: Path, artifacts: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    """``make build-<logical_id>`` as SAM runs it: in a copy of the code, with ``ARTIFACTS_DIR``."""
    shutil.copytree(code_uri(logical_id), scratch)
    artifacts.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [
            MAKE,
            "--no-print-directory",
            "-f",
            str(ROOT / "Makefile"),
            f"build-{logical_id}",
            f"PYTHON={sys.executable}",
        ],
        cwd=scratch,
        env={**os.environ, "ARTIFACTS_DIR": str(artifacts), **environ},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each artifact's root: the function's, or the layer's ``python/``."""
    base = tmp_path_factory.mktemp("sam-build")
    roots: dict[str, Path] = {}
    for logical_id in (LAYER, *FUNCTIONS):
        artifacts = base / logical_id
        done = make_build(logical_id, base / f"scratch-{logical_id}", artifacts)
        assert done.returncode == 0, done.stdout + done.stderr
        roots[logical_id] = artifacts / "python" if logical_id == LAYER else artifacts
    return roots


def python_files(root: Path) -> Iterator[Path]:
    return (path for path in sorted(root.rglob("*.py")) if "__pycache__" not in path.parts)


def pins(requirements: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in requirements.read_text().splitlines())
    return dict(line.split("==") for line in lines if line)


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@pytest.mark.long
@pytest.mark.parametrize("logical_id", [LAYER, *FUNCTIONS])
def test_every_python_file_that_ships_has_its_cpython313_hash_based_bytecode(
    built: dict[str, Path], logical_id: str
) -> None:
    # Given the artifact as the build made it
    root = built[logical_id]
    sources = list(python_files(root))
    assert sources
    # When each .py is paired with the .pyc the python3.13 runtime would look for
    python = runtime_python()
    done = subprocess.run(
        [python, "-c", SOURCE_HASHES],
        input=json.dumps([str(path) for path in sources]),
        capture_output=True,
        text=True,
        check=True,
    )
    expected_hashes = json.loads(done.stdout)
    magic = lambda_build.magic(python)
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.{RUNTIME_CACHE_TAG}.pyc"
        header = compiled.read_bytes()[:16]
        # Then it is CPython 3.13's, hash-based and not checked against the source (whose date SAM's zip loses),
        # and holds the hash of exactly this source
        assert header[:4] == magic, source
        assert int.from_bytes(header[4:8], "little") == 0b01, source
        assert header[8:16].hex() == expected_hashes[str(source)], source
    # And no other bytecode ships: no other version's, none beside its source
    other = [path for path in root.rglob("*.pyc") if not path.name.endswith(f".{RUNTIME_CACHE_TAG}.pyc")]
    assert other == []
    assert all(path.parent.name == "__pycache__" for path in root.rglob("*.pyc"))


@pytest.mark.long
def test_each_artifact_ships_its_code_as_it_is_in_the_repository_and_its_pinned_requirements_only(
    built: dict[str, Path],
) -> None:
    for logical_id, root in built.items():
        shipped = {path.name for path in root.iterdir() if path.name != "__pycache__"}
        wanted = pins(REQUIREMENTS[logical_id]) if logical_id in REQUIREMENTS else {}
        distributions = {name for name in shipped if name.endswith(".dist-info")}
        assert {normalised(name.removesuffix(".dist-info")) for name in distributions} == {
            normalised(f"{name}-{version}") for name, version in wanted.items()
        }, logical_id
        for package in PACKAGES[logical_id]:
            source = code_uri(logical_id) / package
            ours = {path.relative_to(source) for path in python_files(source)}
            assert ours == {path.relative_to(root / package) for path in python_files(root / package)}, package
            for relative in ours:
                assert (root / package / relative).read_bytes() == (source / relative).read_bytes()
        assert "bin" not in shipped  # console scripts name the build's interpreter; nothing runs them
    assert {path.name for path in built["SweepSummaryFunction"].iterdir()} == {"sweep_summary", "common"}


@pytest.mark.long
@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_function_ships_a_botocore_of_its_own(built: dict[str, Path], function: str) -> None:
    names = {normalised(path.name.split("-")[0]) for path in built[function].iterdir()}
    assert names.isdisjoint(NOT_SHIPPED)  # neither the package nor its .dist-info


def test_another_python_is_refused_clearly(tmp_path: Path) -> None:
    # Given LAMBDA_PYTHON naming this interpreter, which is not CPython 3.13
    # When the layer is built with it
    done = make_build(LAYER, tmp_path / "scratch", tmp_path / "artifacts", LAMBDA_PYTHON=sys.executable)
    # Then the build stops before anything is installed, and says why
    assert done.returncode != 0
    assert f"LAMBDA_PYTHON={sys.executable} is {sys.implementation.cache_tag}, not CPython 3.13" in done.stderr
    assert not any((tmp_path / "artifacts").iterdir())


def test_without_cpython313_the_build_refuses_and_says_what_to_install(tmp_path: Path) -> None:
    environ = {"PATH": str(tmp_path), "PYENV_ROOT": str(tmp_path / "no-pyenv")}
    with pytest.raises(BuildError, match=r"CPython 3\.13 is needed .*put python3\.13 on PATH or set LAMBDA_PYTHON"):
        runtime_python(environ)
    artifacts = tmp_path / "artifacts"
    assert lambda_build.main(["layer", str(artifacts), "--package", "dcs_restores"], environ) == 1
    assert not artifacts.exists()


def test_a_pyenv_cpython313_is_found_when_path_has_none(tmp_path: Path) -> None:
    # Given no python3.13 on PATH, and pyenv's versions folder holding the real one
    real = Path(runtime_python())
    versions = tmp_path / "pyenv" / "versions"
    for version in ("3.13.2", "3.13.10"):
        (versions / version / "bin").mkdir(parents=True)
        (versions / version / "bin" / "python3.13").symlink_to(real)
    # Then the newest is used
    found = runtime_python({"PATH": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")})
    assert found == str(versions / "3.13.10" / "bin" / "python3.13")


@pytest.mark.parametrize("artifacts", ["", "  "])
def test_an_unset_artifacts_dir_is_refused_rather_than_building_into_the_source(artifacts: str) -> None:
    assert lambda_build.main(["function", artifacts, "--package", "restore_watch"]) == 1


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "left-over").write_text("from an earlier build")
    assert lambda_build.main(["function", str(tmp_path), "--package", "restore_watch"]) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["left-over"]


def test_the_check_names_missing_timestamped_and_foreign_bytecode_and_runtime_packages(tmp_path: Path) -> None:
    # Given a folder as a plain install leaves it: a module without bytecode, one with this Python's
    # timestamp-based .pyc, one with CPython 3.13's timestamped .pyc, and botocore
    magic = lambda_build.magic(runtime_python())
    for name in ("bare", "mine", "stamped"):
        (tmp_path / f"{name}.py").write_text("VALUE = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / f"mine.{sys.implementation.cache_tag}.pyc").write_bytes(b"\0" * 16)
    (tmp_path / "__pycache__" / f"stamped.{RUNTIME_CACHE_TAG}.pyc").write_bytes(magic + b"\0" * 12)
    (tmp_path / "botocore").mkdir()
    # Then each is named
    assert check(tmp_path, magic, forbidden=NOT_SHIPPED) == [
        "botocore: provided by the runtime, not shipped",
        f"bare.py: no bare.{RUNTIME_CACHE_TAG}.pyc",
        f"mine.py: no mine.{RUNTIME_CACHE_TAG}.pyc",
        f"stamped.py: stamped.{RUNTIME_CACHE_TAG}.pyc has magic {magic.hex()} and flags 0b00",
    ]
