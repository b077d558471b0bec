"""What the Lambda benchmarks run and weigh: our artifacts as ``sam build`` makes them, the references, the runtime.

- ``ours(platform)``: the layer and the watch function, built by the Makefile's ``build-<LogicalId>``
  targets in a copy of their code, as ``sam build`` runs them (pinned wheels for ``platform``,
  CPython 3.13 hash-based bytecode). Rebuilt every run, from the working tree.
- ``reference(platform)``: ``huaweicloudsdkdcs`` and Powertools installed the way a user's ``sam build``
  (``BuildMethod: python3.13``) installs them: ``pip install --target``, no bytecode.
- ``runtime(platform)``: what the python3.13 runtime provides that the handlers use (boto3, botocore and
  their dependencies), with bytecode as the runtime image ships it.

Wheels are CPython 3.13's for ``LAMBDA`` (the template's arm64, for sizes) or ``HOST`` (this machine, to run).
Installs are cached under ``build/bench/``, keyed by what they install.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from ci.lambda_build import runtime_python

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bench"
LAMBDA = "manylinux2014_aarch64"
HOST = f"manylinux2014_{platform.machine()}"
SOURCES = {"DcsRestoresLayer": ROOT / "layers" / "dcs_restores", "RestoreWatchFunction": ROOT / "functions"}
DONE = ".bench-installed"  # the install finished


def sdk_pins() -> list[str]:
    return [
        f"huaweicloudsdkdcs=={version('huaweicloudsdkdcs')}",
        f"aws-lambda-powertools=={version('aws-lambda-powertools')}",
    ]


def runtime_pins() -> list[str]:
    """boto3 as the lock has it; the runtime's own version may differ."""
    return [f"boto3=={version('boto3')}"]


def ours(target: str) -> dict[str, Path]:
    """Each artifact's root (the layer's ``python/``), freshly built for ``target``."""
    roots: dict[str, Path] = {}
    for logical_id, source in SOURCES.items():
        folder = CACHE / target / logical_id
        shutil.rmtree(folder, ignore_errors=True)
        scratch, artifacts = folder / "scratch", folder / "artifacts"
        shutil.copytree(source, scratch, ignore=shutil.ignore_patterns("__pycache__"))
        artifacts.mkdir()
        make = [shutil.which("make") or "make", "--no-print-directory", "-f", str(ROOT / "Makefile")]
        make += [
            f"build-{logical_id}",
            f"LAMBDA_PLATFORM={target}",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ]
        done = subprocess.run(make, cwd=scratch, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"make build-{logical_id} failed: {(done.stdout + done.stderr)[-3000:]}")
        roots[logical_id] = artifacts / "python" if logical_id == "DcsRestoresLayer" else artifacts
    return roots


def reference(target: str) -> Path:
    return installed("reference", sdk_pins(), target, bytecode=False)


def runtime(target: str) -> Path:
    return installed("runtime", runtime_pins(), target, bytecode=True)


def installed(name: str, pins: list[str], target: str, *, bytecode: bool) -> Path:
    key = hashlib.sha256(f"{pins}{target}{bytecode}".encode()).hexdigest()[:12]
    folder = CACHE / target / f"{name}-{key}"
    if (folder / DONE).exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    command = [runtime_python(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
    command += [str(folder), "--only-binary=:all:", "--platform", target, "--python-version", "3.13"]
    command += ["--implementation", "cp", *([] if bytecode else ["--no-compile"]), *pins]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"pip could not install {pins} for {target}: {done.stderr[-2000:]}")
    shutil.rmtree(folder / "bin", ignore_errors=True)
    (folder / DONE).touch()
    return folder


def files_bytes(folder: Path) -> int:
    """Total size of the regular files under ``folder`` (bytecode included: it ships), less our markers."""
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            if name == DONE:
                continue
            status = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(status.st_mode):
                total += status.st_size
    return total
