"""The shipped state machines on moto's server in this process: how ``sweep`` and ``wait-for-restore`` run them.

moto's server runs Step Functions with its interpreter and Lambda without Docker. The interpreter
invokes each Lambda task over HTTP at ``localhost:$MOTO_PORT``, and the real handler answers it in
this process (``handlers_serve_lambda``), reading DCS and reaching SQS, DynamoDB and Secrets
Manager wherever the environment points: the embedded default, or the services the user set.
Only the kit's own clients (IAM, Lambda, Step Functions) are pinned to the server, with moto's
dummy keys, so they never touch, or sign with, the user's AWS account.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from .local import moto_server
from .workflows import (
    DEFAULT_MAX_CONCURRENCY,
    ClientFactory,
    Finished,
    LocalWorkflows,
    deploy,
    handlers_serve_lambda,
    run,
    sweep_summary,
    undeploy,
)

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
MOTO_DEFAULTS = {"stepfunctions": {"execute_state_machine": False}, "lambda": {"use_docker": True}}
DEFAULT_REGION = "eu-west-1"


@dataclass(frozen=True)
class LocalStateMachines:
    """Both state machines deployed in moto's server, and the Step Functions client that reaches them."""

    arns: LocalWorkflows
    states: Any

    def run(self, state_machine_arn: str, execution_input: Mapping[str, Any], *, within: float) -> Finished:
        return run(state_machine_arn, execution_input, within=within, states=self.states)

    def sweep_summary(self, execution: Finished, *, within: float) -> dict[str, Any] | None:
        return sweep_summary(execution, within=within, states=self.states)


@contextmanager
def local_state_machines(
    environ: MutableMapping[str, str] = os.environ, max_concurrency: int = DEFAULT_MAX_CONCURRENCY
) -> Iterator[LocalStateMachines]:
    """moto's server running the shipped state machines for as long as the block runs."""
    # The interpreter logs every failure it meets (a Catch'd one too) with its internals: the outcome says it all
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    with moto_server() as endpoint:
        _configure(endpoint, MOTO_CONFIG)
        previous_port = environ.get("MOTO_PORT")
        environ["MOTO_PORT"] = endpoint.rsplit(":", 1)[1]  # where the interpreter invokes Lambda
        try:
            region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
            client = _pinned_client_factory(endpoint, region)
            with handlers_serve_lambda():
                deployed = deploy(max_concurrency, client=client)
                try:
                    yield LocalStateMachines(deployed, client("stepfunctions"))
                finally:
                    undeploy(deployed, client=client)  # moto's state is its process's, whichever server
        finally:
            if previous_port is None:
                environ.pop("MOTO_PORT", None)
            else:
                environ["MOTO_PORT"] = previous_port
            _configure(endpoint, MOTO_DEFAULTS)  # moto's settings are its process's: leave them as they were


def _configure(endpoint: str, config: Mapping[str, Any]) -> None:
    """Set moto's server's configuration through its own API."""
    request = urllib.request.Request(  # noqa: S310 - the loopback server started above  # nosec B310
        f"{endpoint}/moto-api/config",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310  # nosec B310
        pass


def _pinned_client_factory(endpoint: str, region: str) -> ClientFactory:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any key  # nosec B106
        region_name=region,
    )
    return partial(session.client, endpoint_url=endpoint)
