"""Lambda entry point of the sweep's summary step: validate the event, add the page, answer."""

from __future__ import annotations

from typing import Any

from .summary import summarise


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return summarise(event)
