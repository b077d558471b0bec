"""``dcs-restore-watch invoke``: run the handler on an event from a file, from stdin, or built from flags.

``--instance`` with ``--begin``/``--end`` builds a direct invoke; with ``--lookback`` a Scheduler input
that ends now. ``--region`` and ``--project-id`` set the run's DCS_REGION and DCS_PROJECT_ID. Every bad
flag is one line on stderr naming it, and exit status 2, before anything runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from common.settings import MAX_LOOKBACK
from dcs_restores import SafeId, region_endpoint
from dcs_restores.query import to_utc

from .local import UsageError, local_services, print_json, say

USAGE_ERROR = 2
RUN_FAILED = 1
STDIN = "-"
_SAFE_ID: TypeAdapter[str] = TypeAdapter(SafeId)
_LOOKBACK: TypeAdapter[timedelta] = TypeAdapter(Annotated[timedelta, Field(gt=timedelta(0), le=MAX_LOOKBACK)])
_WINDOW_FLAGS = ("begin", "end", "lookback", "records")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "event_file", nargs="?", help="a JSON event, e.g. one of events/ ('-' reads it from stdin); or use --instance"
    )
    built = parser.add_argument_group("an event built from flags")
    built.add_argument("--instance", metavar="ID", help="the DCS instance to watch")
    built.add_argument("--begin", metavar="TIME", help="window start: yyyyMMddHHmmss (UTC) or ISO 8601 with an offset")
    built.add_argument("--end", metavar="TIME", help="window end, as --begin")
    built.add_argument(
        "--lookback", metavar="DURATION", help="instead of --begin/--end: the window up to now, e.g. PT6H"
    )
    built.add_argument(
        "--records", choices=["all", "failed", "none"], help="records the payload carries (default: all)"
    )
    parser.add_argument(
        "--region", help="DCS's region for this run, e.g. cn-north-4 (sets DCS_REGION over DCS_ENDPOINT)"
    )
    parser.add_argument("--project-id", metavar="ID", help="the project for this run (sets DCS_PROJECT_ID)")
    parser.add_argument(
        "--output",
        choices=["json", "table"],
        default="json",
        help="json (default): the handler's result; table: for people",
    )


def build_event(args: argparse.Namespace, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Any:
    """The event the flags ask for, read from its file or stdin, or built; ``UsageError`` says what is wrong."""
    _check_environment_flags(args)
    given = [f"--{name}" for name in _WINDOW_FLAGS if getattr(args, name) is not None]
    if args.event_file is not None:
        if args.instance is not None:
            raise UsageError("give an event file or --instance, not both")
        if given:
            raise UsageError(f"{given[0]} builds the event: it goes with --instance, not with an event file")
        return _read_event(args.event_file)
    if args.instance is None:
        raise UsageError(
            "give an event file ('-' for stdin), or --instance with a window (--begin and --end, or --lookback)"
        )
    event: dict[str, Any] = {"instance_id": _valid(_SAFE_ID, args.instance, "--instance")}
    if args.lookback is not None:
        if args.begin is not None or args.end is not None:
            raise UsageError("give --begin and --end, or --lookback, not both")
        _valid(_LOOKBACK, args.lookback, "--lookback", "must be an ISO 8601 duration such as PT6H, up to 366 days")
        scheduled = now().astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        event |= {"lookback": args.lookback, "scheduled_time": scheduled}
    elif args.begin is not None and args.end is not None:
        begin, end = _time(args.begin, "--begin"), _time(args.end, "--end")
        if begin > end:
            raise UsageError("--begin is after --end")
        event |= {"begin_time": args.begin, "end_time": args.end}
    elif args.begin is not None or args.end is not None:
        raise UsageError("--begin and --end go together")
    else:
        raise UsageError("--instance needs a window: --begin and --end, or --lookback")
    if args.records is not None:
        event["records"] = args.records
    return event


def _check_environment_flags(args: argparse.Namespace) -> None:
    if args.region is not None:
        try:
            region_endpoint(args.region)
        except ValueError as error:
            raise UsageError(f"--region: {error}") from None
    if args.project_id is not None:
        _valid(_SAFE_ID, args.project_id, "--project-id")


def apply_environment(args: argparse.Namespace, environ: MutableMapping[str, str]) -> None:
    """What --region and --project-id set for this run: the flag over the environment."""
    if args.region is not None:
        environ["DCS_REGION"] = args.region
        environ.pop("DCS_ENDPOINT", None)  # else the endpoint would win over the region asked for
    if args.project_id is not None:
        environ["DCS_PROJECT_ID"] = args.project_id


def _valid(adapter: TypeAdapter[Any], value: str, flag: str, reason: str | None = None) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        raise UsageError(f"{flag}: {reason or 'must be 1-64 letters, digits, - or _'}") from None


def _time(value: str, flag: str) -> datetime:
    try:
        return to_utc(value)
    except ValueError as error:
        raise UsageError(f"{flag}: {error}") from None


def _read_event(source: str) -> Any:
    name = "stdin" if source == STDIN else source
    try:
        text = sys.stdin.read() if source == STDIN else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise UsageError(f"{name} is not valid JSON: {error}") from None
    except RecursionError:
        raise UsageError(f"{name} nests deeper than this command reads") from None


def run(args: argparse.Namespace) -> int:
    """``dcs-restore-watch invoke``: 0 when the handler answered, 1 when it raised or answered 4xx/5xx, 2 on misuse."""
    try:
        event = build_event(args)
    except UsageError as error:
        say(str(error))
        return USAGE_ERROR
    apply_environment(args, os.environ)
    from .invoke import failed, invoke, summarise
    from .progress import progress_on

    with local_services() as services:
        for note in services.notes:
            say(note)
        started = time.monotonic()
        try:
            # stdout is for the result alone: the handler's logs and metrics go to stderr
            with redirect_stdout(sys.stderr), progress_on(sys.stderr):
                result = invoke(event)
        except Exception as error:  # the handler's named errors, as Lambda would report them
            say(f"{type(error).__name__}: {error}")
            return RUN_FAILED
        if args.output == "table" and (table := _table(result)) is not None:
            sys.stdout.write("\n".join(table) + "\n")
        else:
            print_json(result)
        for line in summarise(result, time.monotonic() - started):
            say(line)
        _show_queue(services.queued_messages())
    return RUN_FAILED if failed(result) else 0


def _table(result: Any) -> list[str] | None:
    """A payload's table, also from an HTTP answer's body; None for anything else (an error, the OpenAPI document)."""
    from restore_watch.payload import RestorePayload

    from .table import payload_table

    if isinstance(result, dict) and "statusCode" in result:
        result = json.loads(result.get("body") or "null")
    if not isinstance(result, dict) or "counts" not in result:
        return None
    return payload_table(RestorePayload.model_validate(result))


def _show_queue(messages: list[dict[str, Any]]) -> None:
    if not messages:
        return
    say(f"the embedded queue now holds {len(messages)} failed restore(s):")
    for body in messages:
        say(f"  {body['instance_id']} {body['restore_id']} {body.get('error_code')}: {body.get('error_message')}")
