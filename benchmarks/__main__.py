"""Run the benchmarks and print one markdown table: ``python -m benchmarks [--quick] [--only NAME]``."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib.metadata import version

from benchmarks import coldstart, first_invocation, forwarding, imports, memory, parsing, shaping, sizes, window
from benchmarks.timing import Row


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | this project | reference | ratio | note |", "|---|---:|---:|---:|---|"]
    lines += [
        f"| {row.benchmark} | {row.show(row.ours)} | {row.show(row.reference)} | "
        f"{'-' if row.ratio is None else f'{row.ratio:.2f}x'} | {row.note} |"
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
    plan = {  # name: (run, repeats, repeats with --quick)
        "imports": (imports.run, 9, 3),
        "coldstart": (coldstart.run, 9, 3),
        "first": (first_invocation.run, 7, 1),
        "parsing": (parsing.run, 30, 5),
        "window": (window.run, 7, 1),
        "shaping": (shaping.run, 7, 1),
        "forwarding": (forwarding.run, 1, 1),
        "memory": (memory.run, 3, 1),
        "sizes": (sizes.run, 1, 1),
    }
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run, not numbers to quote")
    parser.add_argument(
        "--only",
        action="append",
        choices=plan,
        metavar="NAME",
        help=f"run only this group (repeatable): {', '.join(plan)}",
    )
    args = parser.parse_args()
    rows: list[Row] = []
    for name, (run, repeats, quick_repeats) in plan.items():
        if args.only and name not in args.only:
            continue
        repeats = quick_repeats if args.quick else repeats
        print(f"running {name} ({repeats} repeats)...", file=sys.stderr, flush=True)
        rows += run(repeats)
    print(table(rows))
    print()
    print(machine())


if __name__ == "__main__":
    main()
