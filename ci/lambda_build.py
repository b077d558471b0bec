"""Build one Lambda artifact as the python3.13 runtime runs it: pinned wheels, the code, hash-based bytecode.

``sam build`` (``BuildMethod: makefile``) runs ``make build-<LogicalId>`` in a copy of the resource's
``CodeUri`` with ``ARTIFACTS_DIR`` set; each of those targets runs this script::

    python3 ci/lambda_build.py function "$ARTIFACTS_DIR" --source . --package restore_watch --package common \\
        --requirements requirements.txt --platform manylinux2014_aarch64

1. ``pip install --target`` of the requirements, ``--no-deps``: each file pins its whole closure, less what
   the layer or the runtime provides (see ``tests/unit/test_shipped_requirements.py``), with wheels for the
   template's platform and CPython 3.13.
2. The packages named, copied from the source without any ``__pycache__`` a local run left there.
3. Every ``.py`` compiled by CPython 3.13 with ``--invalidation-mode unchecked-hash`` (PEP 552). Lambda's
   code is read-only, so a missing ``.pyc`` is compiled again at every cold start and thrown away; and
   SAM's zip dates every file 1980-01-01, so the source mtime a timestamp-based ``.pyc`` records never
   matches and it would be ignored. A hash-based one does not look at the source's date; unchecked, it
   does not read the source at all: the artifact is immutable once deployed.
4. A check of the result: every ``.py`` has its CPython 3.13 hash-based ``.pyc``, and a function ships
   no botocore, boto3, s3transfer or urllib3 of its own (the runtime's, and the layer's urllib3, serve).

The script runs on any Python 3.11 or newer; pip and the compiler are CPython 3.13's, found as
``LAMBDA_PYTHON``, else ``python3.13`` on ``PATH``, else pyenv's. Any other minor version is refused:
its bytecode would carry another cache tag and be ignored by the runtime.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess  # pip and compileall of the runtime's Python, with argument lists  # nosec B404
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

RUNTIME_CACHE_TAG = "cpython-313"
RUNTIME_VERSION = "3.13"
DEFAULT_PLATFORM = "manylinux2014_aarch64"  # the template's arm64
# What a function must not ship: the runtime has them (and the layer, urllib3), and a second copy ahead
# of them on the import path would shadow the ones botocore was released with.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "urllib3")
HASH_BASED_UNCHECKED = 0b01  # PEP 552 flags: bit 0 hash-based, bit 1 check the source
KINDS = {"function": ("", "/var/task"), "layer": ("python", "/opt/python")}  # where the code goes, where it runs
TIMEOUT = 600.0


class BuildError(Exception):
    """The artifact cannot be built, or was built wrong: the message says what to do."""


def runtime_python(environ: Mapping[str, str] = os.environ) -> str:
    """CPython 3.13's interpreter: ``LAMBDA_PYTHON`` if set (and refused if it is another), else found."""
    chosen = environ.get("LAMBDA_PYTHON", "")
    if chosen:
        tag = cache_tag(chosen)
        if tag != RUNTIME_CACHE_TAG:
            raise BuildError(
                f"LAMBDA_PYTHON={chosen} is {tag or 'not a working Python'}, not CPython {RUNTIME_VERSION}: "
                f"the python{RUNTIME_VERSION} runtime would ignore its bytecode"
            )
        return chosen
    pyenv = Path(environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installed = sorted(pyenv.glob(f"versions/{RUNTIME_VERSION}.*/bin/python{RUNTIME_VERSION}"), key=_version_key)
    for candidate in [shutil.which(f"python{RUNTIME_VERSION}", path=environ.get("PATH")), *map(str, installed[::-1])]:
        if candidate and cache_tag(candidate) == RUNTIME_CACHE_TAG:
            return candidate
    raise BuildError(
        f"CPython {RUNTIME_VERSION} is needed to build for the python{RUNTIME_VERSION} runtime (another version's "
        f"bytecode would be ignored): put python{RUNTIME_VERSION} on PATH or set LAMBDA_PYTHON to it"
    )


def _version_key(path: Path) -> tuple[int, ...]:
    """3.13.10 after 3.13.9: pyenv's version folder, numerically."""
    return tuple(int(part) if part.isdigit() else -1 for part in path.parent.parent.name.split("."))


def cache_tag(python: str) -> str:
    """``sys.implementation.cache_tag`` of ``python`` (``cpython-313``), or "" when it does not run."""
    try:
        done = _run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def build(
    kind: str,
    artifacts: Path,
    source: Path,
    packages: Sequence[str],
    requirements: Path | None,
    platform: str,
    python: str,
) -> Path:
    """Build the artifact into ``artifacts`` (which must be empty); returns the folder the code went to."""
    folder_name, runs_at = KINDS[kind]
    into = artifacts / folder_name
    if into.exists() and any(into.iterdir()):
        raise BuildError(f"{into} is not empty: build into an empty folder (sam build gives each build one)")
    into.mkdir(parents=True, exist_ok=True)
    if requirements is not None:
        _install(python, requirements, into, platform)
    for package in packages:
        if (into / package).exists():
            raise BuildError(f"{package} is both a requirement and a package of the source")
        shutil.copytree(source / package, into / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _compile(python, into, runs_at)
    problems = check(into, magic(python), forbidden=RUNTIME_PROVIDED if kind == "function" else ())
    if problems:
        raise BuildError("the artifact is not what the runtime needs:\n  " + "\n  ".join(problems[:20]))
    return into


def _install(python: str, requirements: Path, into: Path, platform: str) -> None:
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--no-deps"]
    command += ["--only-binary=:all:", "--platform", platform, "--python-version", RUNTIME_VERSION]
    command += ["--implementation", "cp", "--target", str(into), "--requirement", str(requirements)]
    _check(_run(command), "pip could not install " + str(requirements))
    shutil.rmtree(into / "bin", ignore_errors=True)  # console scripts: nothing runs them, and their shebangs name us


def _compile(python: str, into: Path, runs_at: str) -> None:
    # -s/-p: tracebacks name the file where Lambda runs it, and the bytecode is the same on every machine.
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    command += ["-s", str(into), "-p", runs_at, str(into)]
    _check(_run(command), f"CPython {RUNTIME_VERSION} could not compile {into}")


def magic(python: str) -> bytes:
    """The bytecode magic number of ``python``'s version: the first four bytes of each of its ``.pyc``."""
    done = _run([python, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"], timeout=60)
    _check(done, f"{python} did not say its bytecode magic number")
    return bytes.fromhex(done.stdout.strip())


def check(into: Path, expected_magic: bytes, forbidden: Sequence[str] = ()) -> list[str]:
    """What is wrong with a built folder: each ``.py`` needs its unchecked hash-based ``.pyc`` of ``expected_magic``."""
    problems = [f"{name}: provided by the runtime, not shipped" for name in forbidden if (into / name).exists()]
    for source in sorted(into.rglob("*.py")):
        if "__pycache__" in source.parts:
            continue
        compiled = source.parent / "__pycache__" / f"{source.stem}.{RUNTIME_CACHE_TAG}.pyc"
        where = source.relative_to(into)
        if not compiled.is_file():
            problems.append(f"{where}: no {compiled.name}")
            continue
        with compiled.open("rb") as file:
            header = file.read(8)
        flags = int.from_bytes(header[4:8], "little")
        if header[:4] != expected_magic or flags != HASH_BASED_UNCHECKED:
            problems.append(f"{where}: {compiled.name} has magic {header[:4].hex()} and flags {flags:#04b}")
    return problems


def _run(command: Sequence[str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command lines  # nosec B603
        list(command), capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
    )


def _check(done: subprocess.CompletedProcess[str], failure: str) -> None:
    if done.returncode != 0:
        raise BuildError(f"{failure} (exit {done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="lambda_build", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=KINDS, help="function: code at the root; layer: under python/")
    parser.add_argument("artifacts", help="ARTIFACTS_DIR, as sam build sets it; must be empty")
    parser.add_argument("--source", type=Path, default=Path(), help="where the packages are (default: here)")
    parser.add_argument("--package", action="append", default=[], help="a package of the source to ship")
    parser.add_argument("--requirements", type=Path, help="pinned requirements to install, their closure included")
    parser.add_argument("--platform", default=DEFAULT_PLATFORM, help=f"wheel platform (default {DEFAULT_PLATFORM})")
    args = parser.parse_args(argv)
    try:
        if not args.artifacts.strip():  # an unset ARTIFACTS_DIR: never build into the source instead
            raise BuildError("no artifacts folder: sam build sets ARTIFACTS_DIR; set it when running make yourself")
        artifacts = Path(args.artifacts)
        python = runtime_python(environ)
        into = build(args.kind, artifacts, args.source, args.package, args.requirements, args.platform, python)
    except BuildError as error:
        print(f"lambda_build: {error}", file=sys.stderr)
        return 1
    print(f"lambda_build: {into}: built with {RUNTIME_CACHE_TAG} hash-based bytecode for {args.platform}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
