"""What ships, unzipped: the layer and the watch function as ``sam build`` makes them, against the official SDK.

Ours are built by the Makefile's targets for the template's platform (CPython 3.13 manylinux2014
aarch64 wheels) with their hash-based bytecode, which ships; the reference is ``huaweicloudsdkdcs``
with its dependencies, installed the way ``sam build``'s ``python3.13`` method installs it (no bytecode).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from benchmarks import artifacts
from benchmarks.artifacts import files_bytes
from benchmarks.timing import MB, Row

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes: a function and all its layers, unzipped


def largest(folder: Path, count: int) -> str:
    """The ``count`` largest top-level packages, in MB."""
    sizes = {entry.name: files_bytes(entry) for entry in folder.iterdir() if entry.is_dir()}
    top = sorted(sizes.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name} {size / MB:.1f}" for name, size in top)


def run(repeats: int) -> list[Row]:
    del repeats  # sizes do not vary between runs
    built = artifacts.ours(artifacts.LAMBDA)
    sdk_pin = f"huaweicloudsdkdcs=={version('huaweicloudsdkdcs')}"
    sdk = artifacts.installed("sdk", [sdk_pin], artifacts.LAMBDA, bytecode=False)
    layer, function = built["DcsRestoresLayer"], built["RestoreWatchFunction"]
    layer_bytes, sdk_bytes, function_bytes = (files_bytes(folder) for folder in (layer, sdk, function))
    return [
        Row(
            "Lambda layer, built, unzipped",
            layer_bytes,
            sdk_bytes,
            f"reference: {sdk_pin} with its dependencies, no bytecode; both CPython 3.13 manylinux2014 aarch64 "
            f"wheels; ours with its bytecode; largest (MB): ours {largest(layer, 3)}; reference {largest(sdk, 4)}",
            unit="MB",
        ),
        Row(
            "function package, built, unzipped",
            function_bytes,
            None,
            f"restore_watch and Powertools (Tracer's X-Ray SDK included, botocore the runtime's), with bytecode; no "
            f"counterpart in the reference; largest (MB): {largest(function, 3)}; function + layer: "
            f"{(function_bytes + layer_bytes) / MB:.1f} MB, "
            f"{(function_bytes + layer_bytes) / LAMBDA_UNZIPPED_LIMIT:.0%} of what Lambda allows unzipped "
            f"({LAMBDA_UNZIPPED_LIMIT:,} bytes)",
            unit="MB",
        ),
    ]
