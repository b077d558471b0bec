"""Cold import of the handler module against the official SDK's, each in a fresh interpreter of this virtualenv.

Bytecode is cached here as an install caches it; ``coldstart`` measures the import as Lambda runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.timing import Row, median_seconds, verdict

TARGET = 0.75
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_seconds(module: str) -> float:
    """Seconds to import ``module`` in a new interpreter, with bytecode cached as an install has it."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return float(done.stdout)


def run(repeats: int) -> list[Row]:
    timings: dict[str, list[float]] = {"restore_watch.app": [], "huaweicloudsdkdcs.v2": []}

    def probe(module: str) -> None:
        timings[module].append(import_seconds(module))

    # Subprocess wall time includes interpreter start-up; the import itself is timed inside the child.
    median_seconds(*(lambda module=module: probe(module) for module in timings), repeats=repeats)
    ours, sdk = (sorted(values)[len(values) // 2] for values in timings.values())
    return [
        Row(
            "cold import of the handler module, in a virtualenv with cached bytecode",
            ours,
            sdk,
            f"reference: import huaweicloudsdkdcs.v2, fresh interpreters; {verdict(ours / sdk, TARGET)}",
        )
    ]
