"""``dcs-restore-watch``: the project's command line (the local kit's entry point)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from .seed import generate_records, load_fixture


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dcs-restore-watch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    emulator = commands.add_parser("emulator", help="run the DCS emulator on loopback until interrupted")
    emulator.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    source = emulator.add_mutually_exclusive_group()
    source.add_argument("--records", type=int, default=40, help="number of seeded records (default: 40)")
    source.add_argument("--fixture", type=Path, help="a JSON file: a DCS 200 body or a list of records")
    emulator.add_argument("--ak", default=DEFAULT_AK)
    emulator.add_argument("--sk", default=DEFAULT_SK)
    emulator.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
    emulator.add_argument("--instance-id", default=DEFAULT_INSTANCE_ID)
    emulator.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")

    args = parser.parse_args(argv)
    return _run_emulator(args)


def _run_emulator(args: argparse.Namespace) -> int:
    try:
        records = load_fixture(args.fixture) if args.fixture else generate_records(args.records)
    except (OSError, ValueError) as error:
        print(f"dcs-restore-watch: cannot read the fixture: {error}", file=sys.stderr)
        return 2
    try:
        server = Emulator(
            records, instance_id=args.instance_id, project_id=args.project_id, ak=args.ak, sk=args.sk, port=args.port
        )
    except OSError as error:
        print(f"dcs-restore-watch: cannot listen on port {args.port}: {error.strerror}", file=sys.stderr)
        return 2
    server.faults.latency = args.latency_ms / 1000
    url = server.start()
    print(f"DCS emulator listening on {url}", flush=True)
    print(f"DCS_ENDPOINT={url}\nDCS_PROJECT_ID={args.project_id}\nDCS_AK={args.ak}\nDCS_SK={args.sk}")
    print(f"instance: {args.instance_id} ({len(records)} records)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
