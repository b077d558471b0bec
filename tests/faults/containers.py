"""Concurrent invocations, each in a process of its own, as each Lambda container is.

Lambda never runs two invocations in one container at once, and the handler keeps per-container
state (its runtime, Powertools' context), so concurrency is processes, not threads. They are
forked from a forkserver that has already imported the handler and boto3, so fifty of them
start in well under a second; a barrier then lets them all invoke at the same moment.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from queue import Empty
from typing import Any

PRELOAD = [
    "boto3",
    "botocore.config",
    "aws_lambda_powertools.utilities.parameters",
    "devkit.invoke",
    "restore_watch.app",
]
START_TIMEOUT = 60.0  # seconds for every process to reach the barrier
INVOKE_TIMEOUT = 180.0  # seconds for all of them to finish (each invocation's own deadline is 120 s)


@dataclass(frozen=True)
class Outcome:
    """One invocation: the event, and the name of the exception it raised (``None``: it returned)."""

    event: dict[str, Any]
    error: str | None
    queued: int = 0


def _container(event: dict[str, Any], environ: dict[str, str], start: Barrier, results: Any) -> None:
    os.environ.update(environ)
    from devkit.invoke import invoke

    start.wait(START_TIMEOUT)
    try:
        payload = invoke(event)
    except Exception as error:  # what Lambda would report for this invocation
        results.put(Outcome(event, type(error).__name__))
    else:
        results.put(Outcome(event, None, payload["forwarded"]["queued"]))


def invoke_concurrently(events: list[dict[str, Any]], **overrides: str) -> list[Outcome]:
    """Invoke the handler on every event at once, one process each; the outcomes in no particular order.

    Each process gets this process's environment as it is now (the forkserver keeps the one it
    started with), plus ``overrides``.
    """
    environ = {**os.environ, **overrides}
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    start = context.Barrier(len(events))
    results = context.Queue()
    processes = [context.Process(target=_container, args=(event, environ, start, results)) for event in events]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for _ in events:
            outcomes.append(results.get(timeout=INVOKE_TIMEOUT))
    except Empty:
        raise AssertionError(f"only {len(outcomes)} of {len(events)} invocations finished") from None
    finally:
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
    return outcomes
