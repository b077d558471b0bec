"""The shipped state machines on moto's Step Functions interpreter, each Lambda task served by the real handler.

moto runs an execution in a thread of its own; the handlers it invokes read DCS at the loopback
emulator and reach moto's SQS, DynamoDB and Secrets Manager in-process, like ``tests/integration``.
Only the passage of time is patched: the interpreter's Retry backoff and Wait states return at once
and are recorded, so a test asserts them instead of sleeping through them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto import mock_aws

from devkit.workflows import Finished, LocalWorkflows, deploy, handlers_serve_lambda
from devkit.workflows import run as start_and_await
from tests.support import AwsResources, fresh_container, use_moto_credentials

MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
EXECUTION_DEADLINE = 120.0  # seconds of real time an execution may take here before the test fails


@dataclass
class InterpreterTime:
    """What the interpreter would have slept: each Retry's backoff and each Wait, in seconds, in order."""

    retries: list[float] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.retries.append(seconds)


@pytest.fixture
def interpreter_time(monkeypatch: pytest.MonkeyPatch) -> InterpreterTime:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    recorded = InterpreterTime()
    monkeypatch.setattr(retrier_decl, "time", recorded)  # the module's only use of time is time.sleep
    monkeypatch.setattr(
        WaitFunction, "_wait_interval", lambda _self, env, wait_seconds: recorded.waits.append(wait_seconds)
    )
    return recorded


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    """moto in-process with its Step Functions interpreter on and Lambda without Docker."""
    use_moto_credentials(monkeypatch)
    with mock_aws(config=MOTO_CONFIG):
        yield AwsResources.create()


@pytest.fixture
def workflows(function_env: dict[str, str], interpreter_time: InterpreterTime) -> Iterator[LocalWorkflows]:
    """Both state machines deployed in moto, their Lambda tasks served by the handlers in this process."""
    with handlers_serve_lambda():
        yield deploy()
    fresh_container()


def run(state_machine_arn: str, execution_input: dict[str, Any], name: str | None = None) -> Finished:
    """Start an execution and wait, within ``EXECUTION_DEADLINE``, until it has ended and shows its end whole."""
    return start_and_await(state_machine_arn, execution_input, within=EXECUTION_DEADLINE, name=name)
