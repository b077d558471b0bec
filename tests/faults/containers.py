"""Concurrent invocations, each in a process of its own, as each Lambda container is.

Lambda never runs two invocations in one container at once, and the handler keeps per-container
state (its runtime, Powertools' context), so concurrency is processes, not threads. They are
forked from a forkserver that has already imported the heavy third-party modules (boto3,
pydantic, Powertools), so fifty of them start in seconds; the handler itself is imported in
each, after its environment is set, as in a fresh container. A barrier then lets them all
invoke at the same moment.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from queue import Empty
from typing import Any

# Imported once by the forkserver; nothing of ours, whose imports read the environment.
PRELOAD = ["boto3", "botocore.config", "pydantic", "requests", "aws_lambda_powertools.utilities.parameters"]
START_TIMEOUT = 60.0  # seconds for every process to reach the barrier
INVOKE_TIMEOUT = 180.0  # seconds for all of them to finish (each invocation's own deadline is 120 s)


@dataclass(frozen=True)
class Outcome:
    """One invocation: the event, and the name of the exception it raised (``None``: it returned)."""

    event: dict[str, Any]
    error: str | None
    queued: int = 0


def _container(event: dict[str, Any], environ: dict[str, str], start: Barrier, results: Any) -> None:
    os.environ.clear()  # the forkserver's environment is that of the test that started it
    os.environ.update(environ)
    try:
        from devkit.invoke import invoke

        start.wait(START_TIMEOUT)
        payload = invoke(event)
    except Exception as error:  # what Lambda would report for this invocation
        results.put(Outcome(event, type(error).__name__))
    else:
        results.put(Outcome(event, None, payload["forwarded"]["queued"]))


def invoke_concurrently(events: list[dict[str, Any]], **overrides: str) -> list[Outcome]:
    """Invoke the handler on every event at once, one process each; the outcomes in no particular order.

    Each process gets this process's environment as it is now, plus ``overrides``.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    start = context.Barrier(len(events))
    results = context.Queue()
    environ = {**os.environ, **overrides}
    processes = [context.Process(target=_container, args=(event, environ, start, results)) for event in events]
    for process in processes:
        process.start()
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + INVOKE_TIMEOUT
    try:
        while len(outcomes) < len(events) and time.monotonic() < deadline:
            try:
                outcomes.append(results.get(timeout=1.0))
            except Empty:
                if not any(process.is_alive() for process in processes) and results.empty():
                    break  # some died without an answer: waiting longer would not bring it
    finally:
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
    assert len(outcomes) == len(events), f"only {len(outcomes)} of {len(events)} invocations answered"
    return outcomes
