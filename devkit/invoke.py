"""Run the real Lambda handler in-process, with a Lambda-like context."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

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
    """A short human summary of a handler result: one line per instance report."""
    lines = []
    if isinstance(result, dict) and "statusCode" in result:  # an HTTP API response
        body = json.loads(result.get("body") or "null")
        if isinstance(body, dict) and "error" in body:
            error = body["error"]
            return [f"HTTP {result['statusCode']}: {error.get('code')}: {error.get('message')} ({seconds:.2f} s)"]
        lines.append(f"HTTP {result['statusCode']}")
        result = body
    reports = result.get("reports", [result]) if isinstance(result, dict) else []
    for report in reports:
        if "error" in report:
            lines.append(f"{report.get('instance_id')}: failed: {report['error'].get('code')}")
            continue
        if "counts" not in report:
            continue
        counts = ", ".join(f"{status} {count}" for status, count in report["counts"].items())
        invalid = len(report["invalid_records"]) + report["invalid_records_omitted"]
        lines.append(
            f"{report['instance_id']}: {sum(report['counts'].values())} records ({counts}), "
            f"{invalid} invalid; failed restores queued {report['forwarded']['queued']}, "
            f"already forwarded {report['forwarded']['already_forwarded']}"
            + ("; TRUNCATED" if report.get("truncated") else "")
            + _reduced(report)
        )
    lines.append(f"done in {seconds:.2f} s")
    return lines


def _reduced(report: dict[str, Any]) -> str:
    """What the payload does not carry, asked for or cut to the response size limit: nothing, mostly."""
    left_out = []
    if report["records_included"] != "all":
        left_out.append(f"records in payload: {report['records_included']}")
    if report["invalid_records_omitted"]:
        left_out.append(f"invalid records omitted: {report['invalid_records_omitted']}")
    return f"; {', '.join(left_out)}" if left_out else ""
