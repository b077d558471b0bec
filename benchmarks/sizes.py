"""What ships, unzipped: the built layer and function against the official SDK's installed footprint.

Each is built as ``sam build`` builds it for the template (python3.13, arm64): ``pip install
--target`` of its requirements with wheels for CPython 3.13 on manylinux2014 aarch64, plus the
package source (no bytecode). The reference is ``huaweicloudsdkdcs`` with its dependencies,
installed the same way. Installs are cached under ``build/bench/``, keyed by what they install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from benchmarks.timing import MB, Row

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bench"
LAYER = ROOT / "layers" / "dcs_restores"
FUNCTION = ROOT / "functions"
LAMBDA = ["--only-binary=:all:", "--platform", "manylinux2014_aarch64", "--python-version", "3.13"]
LAMBDA += ["--implementation", "cp"]
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes: a function and all its layers, unzipped
DONE = ".bench-installed-"  # a marker file: the install finished, for Lambda's platform or this one


@dataclass(frozen=True)
class Build:
    folder: Path
    for_lambda: bool  # False: wheels for this machine, as the index had none for Lambda's platform


def build(name: str, requirements: Path | str, source: Path | None = None) -> Build:
    """``pip install --target`` of ``requirements`` (a file or one pin) for Lambda, then ``source``'s files.

    The install is cached, keyed by what it installs; the source is copied afresh every time.
    """
    pin = requirements if isinstance(requirements, str) else requirements.read_text(encoding="utf-8")
    folder = CACHE / f"{name}-{hashlib.sha256(f'{pin}{LAMBDA}'.encode()).hexdigest()[:12]}"
    marker = next((kind for kind in ("lambda", "here") if (folder / f"{DONE}{kind}").exists()), None)
    if marker is None:
        for stale in CACHE.glob(f"{name}-*"):
            shutil.rmtree(stale)
        marker = _install(folder, ["-r", str(requirements)] if isinstance(requirements, Path) else [requirements])
    if source is not None:
        for entry in source.iterdir():
            if entry.name != "__pycache__":
                shutil.rmtree(folder / entry.name, ignore_errors=True)
        shutil.copytree(source, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return Build(folder, marker == "lambda")


def _install(folder: Path, requirements: list[str]) -> str:
    errors = ""
    for kind, platform in (("lambda", LAMBDA), ("here", [])):
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(folder)]
        done = subprocess.run([*command, *platform, *requirements], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            (folder / f"{DONE}{kind}").touch()
            return kind
        shutil.rmtree(folder, ignore_errors=True)
        errors = done.stderr
    raise RuntimeError(f"pip could not install {requirements}: {errors[-2000:]}")


def files_bytes(folder: Path) -> int:
    """Total size of the regular files under ``folder``; bytecode caches and our build markers left out."""
    total = 0
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [name for name in subdirectories if name != "__pycache__"]
        for name in files:
            if name.startswith(DONE) or name.endswith(".pyc"):
                continue
            status = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(status.st_mode):
                total += status.st_size
    return total


def largest(folder: Path, count: int) -> str:
    """The ``count`` largest top-level packages, in MB."""
    sizes = {entry.name: files_bytes(entry) for entry in folder.iterdir() if entry.is_dir()}
    top = sorted(sizes.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name} {size / MB:.1f}" for name, size in top)


def run(repeats: int) -> list[Row]:
    del repeats  # sizes do not vary between runs
    sdk_pin = f"huaweicloudsdkdcs=={version('huaweicloudsdkdcs')}"
    layer = build("layer", LAYER / "requirements.txt", LAYER / "dcs_restores")
    sdk = build("sdk", sdk_pin)
    # SAM copies the whole CodeUri (functions/: requirements.txt and restore_watch/) beside what it installs.
    function = build("function", FUNCTION / "requirements.txt", FUNCTION)
    layer_bytes, sdk_bytes, function_bytes = (files_bytes(done.folder) for done in (layer, sdk, function))
    wheels = (
        "CPython 3.13 manylinux2014 aarch64 wheels"
        if layer.for_lambda and sdk.for_lambda and function.for_lambda
        else "wheels for this machine's platform (the index lacked some for Lambda's)"
    )
    return [
        Row(
            "Lambda layer, built, unzipped",
            layer_bytes,
            sdk_bytes,
            f"reference: {sdk_pin} with its dependencies; both pip --target installs with {wheels}, "
            f"no bytecode; largest (MB): ours {largest(layer.folder, 3)}; reference {largest(sdk.folder, 4)}",
            unit="MB",
        ),
        Row(
            "function package, built, unzipped",
            function_bytes,
            None,
            f"restore_watch and aws-lambda-powertools[tracer], built like the layer; no counterpart in the "
            f"reference; largest (MB): {largest(function.folder, 3)} (botocore comes with aws-xray-sdk); "
            f"function + layer: {(function_bytes + layer_bytes) / MB:.1f} MB, "
            f"{(function_bytes + layer_bytes) / LAMBDA_UNZIPPED_LIMIT:.0%} of what Lambda allows unzipped "
            f"({LAMBDA_UNZIPPED_LIMIT:,} bytes)",
            unit="MB",
        ),
    ]
