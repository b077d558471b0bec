"""``dcs-restore-watch``: run the function or its workflows locally, serve it over HTTP, or run the DCS emulator."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from contextlib import ExitStack, redirect_stdout, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from . import invoke_command
from .emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator, every_interface
from .invoke_command import RUN_FAILED, USAGE_ERROR
from .local import LEDGER_TABLE, LOCAL_REGION, UsageError, aws_peers, local_services, say
from .seed import generate_fleet, generate_fleet_records, generate_records, load_fixture

INTERRUPTED = 130  # as a shell reports a command ended by Ctrl-C


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (and exit 2), like every other usage error here."""

    def error(self, message: str) -> NoReturn:
        say(f"{message} (see {self.prog} --help)")
        sys.exit(USAGE_ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", "No application metrics to publish")  # a refused event has none
    parser = _Parser(prog="dcs-restore-watch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    invoke = commands.add_parser(
        "invoke", help="run the Lambda handler in-process on an event file, stdin, or an event built from flags"
    )
    invoke_command.add_arguments(invoke)

    serve = commands.add_parser("serve", help="serve the function's HTTP API on loopback")
    serve.add_argument("--port", type=int, default=3000, help="TCP port (default: 3000)")

    emulator = commands.add_parser("emulator", help="run the DCS emulator (on loopback by default) until interrupted")
    emulator.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1); 0.0.0.0, or the docker bridge's, for `sam local`",
    )
    emulator.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    emulator.add_argument(
        "--aws-port",
        type=int,
        metavar="PORT",
        help="also serve SQS and DynamoDB (moto) on this port of --host, with the queue and the ledger table",
    )
    source = emulator.add_mutually_exclusive_group()
    source.add_argument(
        "--records", type=int, default=40, help="number of seeded records (per instance with --fleet; default: 40)"
    )
    source.add_argument("--fixture", type=Path, help="a JSON file: a DCS 200 body or a list of records")
    emulator.add_argument(
        "--failed-every", type=int, default=5, help="seeded records: every Nth one failed (default: 5; 0: none)"
    )
    emulator.add_argument(
        "--step-seconds", type=int, default=420, help="seeded records: seconds from one to the next (default: 420)"
    )
    emulator.add_argument("--ak", default=DEFAULT_AK)
    emulator.add_argument("--sk", default=DEFAULT_SK)
    emulator.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
    emulator.add_argument(
        "--instance-id", help=f"the one instance when there is no fleet (default: {DEFAULT_INSTANCE_ID})"
    )
    emulator.add_argument(
        "--fleet",
        type=int,
        default=0,
        metavar="N",
        help="seed a fleet of N instances, each with the seeded records (default: 0, just the one instance)",
    )
    emulator.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")

    _add_sweep(commands)
    _add_wait_for_restore(commands)

    args = parser.parse_args(argv)
    if args.command == "invoke":
        return invoke_command.run(args)
    if args.command == "serve":
        return _serve(args.port)
    if args.command in ("sweep", "wait-for-restore"):
        return _run_workflow(args)
    return _run_emulator(args)


def _add_sweep(commands: Any) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="run the fleet sweep state machine locally: watch every instance of the project",
        description="Run statemachines/fleet_sweep.asl.json on moto's interpreter, each Lambda task served by its "
        "handler here. The summary goes to stdout; exit 0 when every instance was watched, 1 when any failed.",
    )
    sweep.add_argument("--begin", metavar="T", help="window start: yyyyMMddHHmmss (UTC) or ISO 8601 with an offset")
    sweep.add_argument("--end", metavar="T", help="window end (with --begin)")
    sweep.add_argument(
        "--lookback", metavar="D", help="window: the last D up to now, ISO 8601 (default: SCHEDULE_LOOKBACK, PT6H)"
    )
    sweep.add_argument("--status", metavar="S", help="only instances in this DCS status, e.g. RUNNING")
    sweep.add_argument(
        "--tag", metavar="K=V", action="append", default=[], help="only instances with this tag (repeat: all match)"
    )
    sweep.add_argument("--name", metavar="N", help="only instances whose name contains N")
    sweep.add_argument("--name-equal", action="store_true", help="--name is the whole name, not a part of it")
    sweep.add_argument("--project-id", metavar="P", help="the project to sweep (default: DCS_PROJECT_ID)")
    sweep.add_argument(
        "--records", choices=("none", "failed"), default="none", help="what each watch returns (default: none)"
    )


def _add_wait_for_restore(commands: Any) -> None:
    wait = commands.add_parser(
        "wait-for-restore",
        help="run the wait-for-restore state machine locally: poll one restore until it ends",
        description="Run statemachines/wait_for_restore.asl.json on moto's interpreter, waiting for real between "
        "polls. The record goes to stdout when the restore succeeds; otherwise exit 1 with RestoreFailed, "
        "RestoreNotFound or RestoreWaitTimedOut and the cause.",
    )
    wait.add_argument("instance", metavar="INSTANCE", help="the instance ID")
    wait.add_argument("restore_id", metavar="RESTORE_ID", help="the restore to follow")
    wait.add_argument(
        "--poll-seconds",
        type=int,
        metavar="N",
        help="seconds between polls (default: 2 on the embedded default, else the workflow's 30)",
    )
    wait.add_argument(
        "--max-wait-seconds", type=int, metavar="N", help="give up after waiting this long (default: 3600)"
    )
    wait.add_argument(
        "--lookback", metavar="D", help="how far back each poll reads, ISO 8601 (default: PT24H); must reach the start"
    )
    wait.add_argument(
        "--started-at",
        metavar="T",
        help="when the restore started: yyyyMMddHHmmss (UTC) or ISO 8601 with an offset; polls read from there",
    )


def _run_workflow(args: argparse.Namespace) -> int:
    from . import workflow_commands

    sweeping = args.command == "sweep"
    try:
        if sweeping:
            execution_input = workflow_commands.sweep_input(args)
        else:
            embedded = not os.environ.get("DCS_ENDPOINT") and not os.environ.get("DCS_REGION")
            execution_input = workflow_commands.wait_input(args, embedded=embedded)
    except UsageError as error:
        say(str(error))
        return USAGE_ERROR
    try:
        if sweeping:
            return workflow_commands.sweep(execution_input)
        return workflow_commands.wait_for_restore(execution_input)
    except KeyboardInterrupt:  # the execution's threads are daemons: they end with the process
        say("interrupted: the execution was left unfinished")
        return INTERRUPTED


def _serve(port: int) -> int:
    from .serve import make_server

    with local_services() as services:
        for note in services.notes:
            say(note)
        # stdout is for the address alone: the function's log handler, made at its import, writes to stderr
        with redirect_stdout(sys.stderr):
            import restore_watch.app  # noqa: F401
        try:
            server = make_server(port)
        except OSError as error:
            say(f"cannot listen on port {port}: {error.strerror}")
            return USAGE_ERROR
        host, bound = server.server_address[:2]
        print(f"serving the HTTP API on http://{host!s}:{bound}", flush=True)
        print(
            f"try: curl 'http://{host!s}:{bound}/instances/{DEFAULT_INSTANCE_ID}/restores"
            "?begin_time=20240101000000&end_time=20240102000000'",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            server.serve_forever(poll_interval=0.1)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            server.server_close()
    return 0


def _run_emulator(args: argparse.Namespace) -> int:
    if args.failed_every < 0 or args.step_seconds < 1 or args.fleet < 0:
        say("--failed-every and --fleet must be 0 or more, --step-seconds 1 or more")
        return USAGE_ERROR
    if args.fleet and (args.fixture or args.instance_id):
        say("--fleet seeds its own instances and records: it does not take --fixture or --instance-id")
        return USAGE_ERROR
    instance_id = args.instance_id or DEFAULT_INSTANCE_ID
    step = timedelta(seconds=args.step_seconds)
    fleet = generate_fleet(args.fleet) if args.fleet else None
    records: list[dict[str, Any]] | dict[str, list[dict[str, Any]]]
    if fleet:
        records = generate_fleet_records(fleet, args.records, args.failed_every, step=step)
    elif args.fixture:
        try:
            records = load_fixture(args.fixture)
        except (OSError, ValueError, KeyError) as error:
            say(f"cannot read the fixture: {error}")
            return USAGE_ERROR
    else:
        records = generate_records(args.records, failed_every=args.failed_every, step=step)
    try:
        server = Emulator(
            records,
            instances=fleet,
            instance_id=instance_id,
            project_id=args.project_id,
            ak=args.ak,
            sk=args.sk,
            host=args.host,
            port=args.port,
        )
    except OSError as error:
        say(f"cannot listen on port {args.port} of {args.host}: {error.strerror or error}")
        return USAGE_ERROR
    server.faults.latency = args.latency_ms / 1000
    with ExitStack() as running:
        url = running.enter_context(server)
        print(f"DCS emulator listening on {url}", flush=True)
        if every_interface(args.host):
            port = url.rsplit(":", 1)[1]
            print(f"on every interface: a container (sam local) reaches it at http://host.docker.internal:{port}")
        print(f"DCS_ENDPOINT={url}\nDCS_PROJECT_ID={args.project_id}\nDCS_AK={args.ak}\nDCS_SK={args.sk}")
        if fleet:
            print(f"fleet: {len(fleet)} instances ({args.records} records each), the first {fleet[0]['instance_id']}")
        else:
            print(f"instance: {instance_id} ({len(records)} records)")
        if args.aws_port is not None:
            try:
                peers = aws_peers(os.environ, args.host, args.aws_port, region=LOCAL_REGION)
                endpoint, queue_url = running.enter_context(peers)
            except OSError as error:
                say(f"cannot listen on port {args.aws_port} of {args.host}: {error.strerror or error}")
                return USAGE_ERROR
            print(f"AWS_ENDPOINT_URL={endpoint}\nAWS_DEFAULT_REGION={LOCAL_REGION}")
            print(f"FAILED_RESTORES_QUEUE_URL={queue_url}\nRESTORE_LEDGER_TABLE={LEDGER_TABLE}")
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with suppress(KeyboardInterrupt, SystemExit):
            signal.pause()
    return 0


def run() -> int:
    """The console script: ``main`` plus a quiet exit when stdout is closed early (``| head``)."""
    try:
        return main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return RUN_FAILED


if __name__ == "__main__":
    sys.exit(run())
