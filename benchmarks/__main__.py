"""Run every benchmark and print one markdown table: ``python -m benchmarks [--quick]``."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib.metadata import version

from benchmarks import forwarding, imports, parsing, window
from benchmarks.timing import Row


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.1f} ms"


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | this project | reference | ratio | note |", "|---|---:|---:|---:|---|"]
    lines += [
        f"| {row.benchmark} | {seconds(row.ours)} | {seconds(row.reference)} | {row.ratio:.2f}x | {row.note} |"
        for row in rows
    ]
    return "\n".join(lines)


def machine() -> str:
    packages = ", ".join(f"{name} {version(name)}" for name in ("pydantic", "requests", "huaweicloudsdkcore"))
    return (
        f"Machine: {platform.platform()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {packages}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run, not numbers to quote")
    quick = parser.parse_args().quick
    rows: list[Row] = []
    plan = (
        ("imports", imports.run, 3 if quick else 9),
        ("parsing", parsing.run, 5 if quick else 30),
        ("window", window.run, 1 if quick else 7),
        ("forwarding", forwarding.run, 1),
    )
    for name, run, repeats in plan:
        print(f"running {name} ({repeats} repeats)...", file=sys.stderr, flush=True)
        rows += run(repeats)
    print(table(rows))
    print()
    print(machine())


if __name__ == "__main__":
    main()
