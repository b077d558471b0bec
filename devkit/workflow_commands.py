"""``sweep`` and ``wait-for-restore``: the shipped state machines run locally, their outcome printed.

The flags become the execution's input, checked first with the types the functions check them
with (a bad one is a ``UsageError``, one line, before anything starts). The execution runs on
moto's interpreter (``devkit.local_workflows``) against the embedded default or the configured
services, and its outcome becomes the exit code: 0 done, 1 failed, 2 input refused.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from dcs_restores import InstanceQuery, SafeId, UtcTime, first_error

from .local import LocalServices, UsageError, local_services, print_json, say
from .workflows import FLEET_SWEEP, WAIT_FOR_RESTORE, ExecutionNotSettledError, Finished, timeout_seconds

DONE, FAILED, USAGE_ERROR = 0, 1, 2
EMBEDDED_POLL_SECONDS = 2  # the embedded DCS answers at once; a real one is polled at the workflow's own default
MAX_POLL_SECONDS = 86_400  # the wait-for-restore definition's bounds
MAX_WAIT_SECONDS = 604_800
FAILED_LISTED = 20  # failed instances named on stderr; the summary on stdout has them all (up to its own 100)

# The flag behind each field of a sweep's input, for messages that name what the user typed.
_FLAGS = {
    "begin_time": "--begin",
    "end_time": "--end",
    "lookback": "--lookback",
    "project_id": "--project-id",
    "name": "--name",
    "status": "--status",
    "tags": "--tag",
    "records": "--records",
    "started_at": "--started-at",
}
# What a value must look like, where the type's own message would not say
_HINTS = {"lookback": "an ISO 8601 duration, e.g. PT6H"}
_EXPECTED = {  # in place of a pattern mismatch's message
    "status": "a DCS status in capitals, e.g. RUNNING",
    "name": "1-64 characters, no control characters",
    "project_id": "1-64 letters, digits, '-' or '_'",
    "tags": "key=value, the key 1-128 and the value 0-255 characters, no control characters",
}


# -- the flags as an execution's input --


def sweep_input(args: argparse.Namespace) -> dict[str, Any]:
    """The fleet sweep's input for these flags, checked as the discovery function checks it."""
    from common.sweep import SweepEvent

    if (args.begin is None) != (args.end is None):
        raise UsageError("--begin and --end go together: give both, or neither")
    if args.lookback is not None and args.begin is not None:
        raise UsageError("give --lookback or --begin/--end, not both")
    if args.name_equal and args.name is None:
        raise UsageError("--name-equal needs --name")
    event: dict[str, Any] = {"records": args.records}
    if args.begin is not None:
        event.update(begin_time=args.begin, end_time=args.end)
    if args.lookback is not None:
        event["lookback"] = args.lookback
    if args.project_id is not None:
        event["project_id"] = args.project_id
    filters = {"name": args.name, "name_equal": args.name_equal, "status": args.status, "tags": _tags(args.tag)}
    event.update((field, value) for field, value in filters.items() if value)
    try:
        sweep = SweepEvent.model_validate(event)
        InstanceQuery.model_validate({"project_id": args.project_id or "default", **filters})
    except ValidationError as error:
        raise _usage(error, event, "tags") from None  # the filters' one refusal of the whole: too long a URL
    if sweep.begin_time is not None and sweep.end_time is not None and sweep.begin_time > sweep.end_time:
        raise UsageError("--begin is after --end")
    return event


def _tags(pairs: list[str]) -> dict[str, str]:
    """``--tag k=v`` flags as the sweep's ``tags``; each key once, and nothing DCS's ``k=v,k2=v2`` could misread."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or "=" in value or "," in pair:
            raise UsageError(f"--tag {pair!r}: expected key=value (no ',' and no second '=')")
        if key in tags:
            raise UsageError(f"--tag {key!r} is given twice")
        tags[key] = value
    return tags


def _usage(error: ValidationError, event: Mapping[str, Any], whole: str) -> UsageError:
    """The first thing wrong, named by its flag (``whole``'s for a refusal of the whole input)."""
    first = error.errors(include_url=False)[0]
    field, reason = first_error([first], whole)
    name = field.split(".", 1)[0]
    if first["type"] == "string_pattern_mismatch" and name in _EXPECTED:
        reason = f"must be {_EXPECTED[name]}"
    given = event.get(name)
    shown = f" {given!r}" if isinstance(given, str) else ""
    hint = f" ({_HINTS[name]})" if name in _HINTS else ""
    return UsageError(f"{_FLAGS.get(name, name)}{shown}: {reason}{hint}")


def wait_input(args: argparse.Namespace, *, embedded: bool) -> dict[str, Any]:
    """The wait-for-restore input for these flags; the poll interval is short on the embedded DCS."""
    from restore_watch.triggers import SchedulerInput

    for flag, value in (("INSTANCE", args.instance), ("RESTORE_ID", args.restore_id)):
        try:
            TypeAdapter(SafeId).validate_python(value)
        except ValidationError:
            raise UsageError(f"{flag} {value!r}: must be 1-64 letters, digits, '-' or '_'") from None
    poll = args.poll_seconds if args.poll_seconds is not None else (EMBEDDED_POLL_SECONDS if embedded else None)
    for flag, value, most in (
        ("--poll-seconds", poll, MAX_POLL_SECONDS),
        ("--max-wait-seconds", args.max_wait_seconds, MAX_WAIT_SECONDS),
    ):
        if value is not None and not 0 <= value <= most:
            raise UsageError(f"{flag} {value}: must be 0 to {most}")
    if args.lookback is not None and args.started_at is not None:
        raise UsageError("give --started-at or --lookback, not both")
    window = {"lookback": args.lookback, "started_at": args.started_at}
    given = {field: value for field, value in window.items() if value is not None}
    if args.started_at is not None:  # read as --begin is (never a number of epoch seconds), handed on in ISO 8601
        try:
            given["started_at"] = TypeAdapter(UtcTime).validate_python(args.started_at).isoformat()
        except ValidationError as error:
            raise _usage(error, window, "started_at") from None
    try:  # checked as each poll's watch checks them, the first poll being now
        SchedulerInput.model_validate({"instance_id": args.instance, "scheduled_time": datetime.now(UTC), **given})
    except ValidationError as error:
        raise _usage(error, window, "started_at") from None
    event: dict[str, Any] = {"instance_id": args.instance, "restore_id": args.restore_id, **given}
    optional = {"poll_seconds": poll, "max_wait_seconds": args.max_wait_seconds}
    event.update((field, value) for field, value in optional.items() if value is not None)
    return event


# -- running them --


def sweep(execution_input: dict[str, Any]) -> int:
    """Run a fleet sweep; the summary on stdout, each failed instance on stderr."""
    with _running() as (services, machines):
        started = time.monotonic()
        within = timeout_seconds(FLEET_SWEEP)
        try:
            done = machines.run(machines.arns.fleet_sweep, execution_input, within=within)
            summary = machines.sweep_summary(done, within=within)
        except ExecutionNotSettledError as error:
            say(str(error))
            return FAILED
        seconds = time.monotonic() - started
    if summary is None:
        say(f"the sweep failed: {describe_failure(done)} ({seconds:.2f} s)")
        return USAGE_ERROR if done.error == "InvalidQueryError" else FAILED
    print_json(summary)
    for line in sweep_lines(summary, seconds):
        say(line)
    _show_demo(services)
    return DONE if done.status == "SUCCEEDED" else FAILED


def sweep_lines(summary: Mapping[str, Any], seconds: float) -> Iterator[str]:
    """A short human account of a sweep's summary: one line, then one per failed instance."""
    counts = ", ".join(f"{status} {count}" for status, count in summary["counts"].items())
    window = summary["window"]
    yield (
        f"swept {summary['instances_watched'] + summary['instances_failed']} instances of "
        f"{summary['project_id']} over {window['begin_time']} .. {window['end_time']}: "
        f"{summary['instances_watched']} watched, {summary['instances_failed']} failed; "
        f"records {counts}; failed restores queued {summary['failed_restores_queued']}"
        + (f"; {summary['instances_invalid']} listed invalid" if summary.get("instances_invalid") else "")
        + ("; TRUNCATED at MAX_INSTANCES" if summary.get("truncated") else "")
        + ("; the fleet changed while it was swept" if summary.get("fleet_changed") else "")
        + f" ({seconds:.2f} s)"
    )
    failed = summary["failed_instances"]
    for instance in failed[:FAILED_LISTED]:
        yield f"  failed: {instance['instance_id']} ({instance['name'] or 'no name'}): {instance['error']}"
    more = len(failed) - FAILED_LISTED + summary["failed_instances_omitted"]
    if more > 0:
        yield f"  ... and {more} more failed instance(s)"


def wait_for_restore(execution_input: dict[str, Any]) -> int:
    """Wait for one restore to end; its record on stdout, or the reason it did not succeed on stderr."""
    with _running() as (_, machines):
        started = time.monotonic()
        try:
            done = machines.run(
                machines.arns.wait_for_restore, execution_input, within=timeout_seconds(WAIT_FOR_RESTORE)
            )
        except ExecutionNotSettledError as error:
            say(str(error))
            return FAILED
        seconds = time.monotonic() - started
    if done.status == "SUCCEEDED":
        print_json(done.output)
        say(f"restore {execution_input['restore_id']} of {execution_input['instance_id']} succeeded ({seconds:.2f} s)")
        return DONE
    say(f"{describe_failure(done)} ({seconds:.2f} s)")
    return USAGE_ERROR if done.error == "InvalidQueryError" else FAILED


def describe_failure(done: Finished) -> str:
    """``Error: cause`` of an execution that did not succeed; a Lambda error's cause is its message."""
    cause = done.cause or ""
    try:
        reported = json.loads(cause)
    except ValueError:
        reported = None
    if isinstance(reported, dict) and isinstance(reported.get("errorMessage"), str):
        cause = reported["errorMessage"]
    return f"{done.error or done.status}: {cause}" if cause else str(done.error or done.status)


@contextmanager
def _running() -> Iterator[tuple[LocalServices, Any]]:
    """The services (embedded or configured) and the state machines, with stdout kept for the result."""
    from .local_workflows import local_state_machines

    with local_services() as services:
        for note in services.notes:
            say(note)
        # stdout is for the result alone: the handlers' logs and metrics, printed in moto's threads, go to stderr
        with redirect_stdout(sys.stderr), local_state_machines() as machines:
            yield services, machines


def _show_demo(services: LocalServices) -> None:
    if services.demo_restore is not None:
        instance_id, restore_id = services.demo_restore
        say(f"next, follow a restore as it runs: dcs-restore-watch wait-for-restore {instance_id} {restore_id}")
