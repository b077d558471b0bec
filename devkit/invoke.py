"""Run the real Lambda handler in-process, with a Lambda-like context."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from restore_watch.payload import RestorePayload  # the shape alone: nothing here reads the environment

DEFAULT_REMAINING_MS = 120_000  # the template's timeout


@dataclass
class LocalContext:
    """What the handler and Powertools read of Lambda's context object."""

    remaining_ms: int = DEFAULT_REMAINING_MS
    function_name: str = "dcs-restore-watch"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:dcs-restore-watch"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.remaining_ms - (time.monotonic() - self._started) * 1000))


def invoke(event: Any) -> Any:
    """The handler's return value for ``event``; its exceptions propagate, as Lambda would report them."""
    from restore_watch.app import lambda_handler

    return lambda_handler(event, LocalContext())


def failed(result: Any) -> bool:
    """An HTTP answer of 4xx/5xx counts as a failed run, like an exception from any other trigger."""
    return isinstance(result, dict) and int(result.get("statusCode", 200)) >= 400


def summarise(result: Any, seconds: float) -> list[str]:
    """A short human summary of a handler result: its instance's report, and the time taken."""
    lines = []
    if isinstance(result, dict) and "statusCode" in result:  # an HTTP API response
        body = json.loads(result.get("body") or "null")
        if isinstance(body, dict) and "error" in body:
            error = body["error"]
            return [f"HTTP {result['statusCode']}: {error.get('code')}: {error.get('message')} ({seconds:.2f} s)"]
        lines.append(f"HTTP {result['statusCode']}")
        result = body
    if isinstance(result, dict) and "counts" in result:  # a payload, not the OpenAPI document
        lines.append(_report_line(RestorePayload.model_validate(result)))
    lines.append(f"done in {seconds:.2f} s")
    return lines


def _report_line(payload: RestorePayload) -> str:
    counts = ", ".join(f"{status} {count}" for status, count in payload.counts.items())
    invalid = len(payload.invalid_records) + payload.invalid_records_omitted
    return (
        f"{payload.instance_id}: {sum(payload.counts.values())} records ({counts}), "
        f"{invalid} invalid; failed restores queued {payload.forwarded.queued}, "
        f"already forwarded {payload.forwarded.already_forwarded}"
        + ("; TRUNCATED" if payload.truncated else "")
        + _reduced(payload)
    )


def _reduced(payload: RestorePayload) -> str:
    """What the payload does not carry, asked for or cut to the response size limit: nothing, mostly."""
    left_out = []
    if payload.records_included != "all":
        left_out.append(f"records in payload: {payload.records_included}")
    if payload.invalid_records_omitted:
        left_out.append(f"invalid records omitted: {payload.invalid_records_omitted}")
    return f"; {', '.join(left_out)}" if left_out else ""
