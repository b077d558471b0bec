"""The state machines as the template deploys them: an ASL file of ``statemachines/`` with its substitutions.

CloudFormation fills each ``${Name}`` of a ``DefinitionUri`` file from the state machine's
``DefinitionSubstitutions``; ``render`` does the same, so what runs locally is what ships.
"""

from __future__ import annotations

import importlib
import io
import json
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .invoke import LocalContext

if TYPE_CHECKING:
    from moto.awslambda_simple.models import LambdaSimpleBackend

STATEMACHINES = Path(__file__).parent.parent / "statemachines"
FLEET_SWEEP = "fleet_sweep"
WAIT_FOR_RESTORE = "wait_for_restore"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def definition_path(name: str) -> Path:
    return STATEMACHINES / f"{name}.asl.json"


def timeout_seconds(name: str) -> int:
    """The definition's ``TimeoutSeconds``: how long Step Functions lets one execution run."""
    timeout: int = json.loads(definition_path(name).read_text(encoding="utf-8"))["TimeoutSeconds"]
    return timeout


def placeholders(name: str) -> set[str]:
    """The ``${Name}`` placeholders the definition holds."""
    return set(_PLACEHOLDER.findall(definition_path(name).read_text(encoding="utf-8")))


def render(name: str, substitutions: Mapping[str, str]) -> str:
    """The definition with every placeholder filled in; a placeholder left over or a value unused is refused."""
    text = definition_path(name).read_text(encoding="utf-8")
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(substitutions):
        raise ValueError(
            f"{name}: substitutions must be exactly {sorted(wanted)}; "
            f"missing {sorted(wanted - set(substitutions))}, unused {sorted(set(substitutions) - wanted)}"
        )
    rendered = _PLACEHOLDER.sub(lambda match: substitutions[match[1]], text)
    json.loads(rendered)  # a value that breaks the JSON is refused here, not by the interpreter
    return rendered


# Running them locally: moto's Step Functions interpreter, each Lambda task served by our own handler.


@dataclass(frozen=True)
class LocalFunction:
    """A function of the template as moto holds it: the substitution its ARN fills, its name, its handler."""

    substitution: str
    name: str
    handler: str


FUNCTIONS = (
    LocalFunction(
        "DiscoverInstancesFunctionArn", "dcs-restore-watch-discover", "discover_instances.app.lambda_handler"
    ),
    LocalFunction("RestoreWatchFunctionArn", "dcs-restore-watch", "restore_watch.app.lambda_handler"),
    LocalFunction("SweepSummaryFunctionArn", "dcs-restore-watch-sweep-summary", "sweep_summary.app.lambda_handler"),
)
LOCAL_ROLE = "dcs-restore-watch-local"
DEFAULT_MAX_CONCURRENCY = 10  # the template's SweepMaxConcurrency
# The template runs each item of the sweep as an Express execution (cheap, short); moto's ASL grammar
# knows only STANDARD there, and its interpreter runs an item the same way whichever is named.
LOCAL_MAP_EXECUTION_TYPE = "STANDARD"


@dataclass(frozen=True)
class LocalWorkflows:
    """The two state machines as created in moto, by ARN."""

    fleet_sweep: str
    wait_for_restore: str


# How a client of one service is made: boto3.client by default, or one pinned to an endpoint and keys.
ClientFactory = Callable[[str], Any]


def _boto3_client(service: str) -> Any:
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


def deploy(max_concurrency: int = DEFAULT_MAX_CONCURRENCY, *, client: ClientFactory = _boto3_client) -> LocalWorkflows:
    """Create the functions and both state machines in moto (in-process, or its server that ``client`` reaches)."""
    role = _role(LOCAL_ROLE, client("iam"))
    lambdas = client("lambda")
    substitutions = {"MaxConcurrency": str(max_concurrency), "MapExecutionType": LOCAL_MAP_EXECUTION_TYPE}
    for function in FUNCTIONS:
        created = lambdas.create_function(
            FunctionName=function.name,
            Runtime="python3.13",
            Role=role,
            Handler=function.handler,
            Code={"ZipFile": _placeholder_zip()},
            Timeout=120,
            MemorySize=512,
        )
        substitutions[function.substitution] = created["FunctionArn"]
    states = client("stepfunctions")
    arns = {
        name: states.create_state_machine(
            name=name.replace("_", "-"), definition=render(name, _needed(name, substitutions)), roleArn=role
        )["stateMachineArn"]
        for name in (FLEET_SWEEP, WAIT_FOR_RESTORE)
    }
    return LocalWorkflows(fleet_sweep=arns[FLEET_SWEEP], wait_for_restore=arns[WAIT_FOR_RESTORE])


def undeploy(deployed: LocalWorkflows, *, client: ClientFactory = _boto3_client) -> None:
    """Delete what ``deploy`` created, so that it can deploy again into the same moto."""
    states = client("stepfunctions")
    for arn in (deployed.fleet_sweep, deployed.wait_for_restore):
        states.delete_state_machine(stateMachineArn=arn)
    lambdas = client("lambda")
    for function in FUNCTIONS:
        lambdas.delete_function(FunctionName=function.name)
    client("iam").delete_role(RoleName=LOCAL_ROLE)


def _needed(name: str, substitutions: Mapping[str, str]) -> dict[str, str]:
    wanted = placeholders(name)
    return {key: value for key, value in substitutions.items() if key in wanted}


def _role(name: str, iam: Any) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    return arn


def _placeholder_zip() -> bytes:
    """moto wants code to create a function; the invocations are served by the handler in this process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "served in-process by the handler this function names\n")
    return buffer.getvalue()


@contextmanager
def handlers_serve_lambda() -> Iterator[None]:
    """While the block runs, moto's no-Docker Lambda answers each invoke by calling the function's handler here.

    A handler that raises comes back as Lambda reports it (``FunctionError: Unhandled``, ``errorType``
    the exception's class name), so a state's Retry and Catch see the error's name as in AWS.
    """
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke
    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]


# A Lambda container runs one invocation at a time, and the handlers keep per-container state at module
# level (Powertools' metrics and logger keys, the cached use cases): here every function shares this one
# process, so the Map's concurrent items take turns, as they would each in a container of its own.
_ONE_INVOCATION_AT_A_TIME = threading.Lock()


def _invoke(
    backend: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: dict[str, str],
) -> bytes:
    function = backend.get_function(function_name, qualifier)
    handler = _handler(str(function.handler))
    context = LocalContext(
        remaining_ms=function.timeout * 1000,
        function_name=function.function_name,
        memory_limit_in_mb=function.memory_size,
        invoked_function_arn=function.function_arn,
    )
    # Encoded as the python3.13 runtime's client (awslambdaric) encodes a result or an error: ensure_ascii=False
    # for AWS_Lambda_python3.12 and later, then UTF-8, so non-ASCII text travels unescaped (4 bytes, not 12).
    try:
        with _ONE_INVOCATION_AT_A_TIME:
            result = handler(json.loads(body or b"{}"), context)
    except Exception as error:  # Lambda reports whatever the handler raises as a function error
        response_headers["x-amz-function-error"] = "Unhandled"
        error_result = {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": []}
        return json.dumps(error_result, ensure_ascii=False).encode()
    return json.dumps(result, ensure_ascii=False).encode()


def _handler(name: str) -> Callable[[Any, Any], Any]:
    module, _, attribute = name.rpartition(".")
    handler: Callable[[Any, Any], Any] = getattr(importlib.import_module(module), attribute)
    return handler


# Running one execution: start it, await its end, read what a failed one's output cannot show.

POLL_SECONDS = 0.02  # how often a local execution is asked whether it ended: moto's server is on loopback
# What an ended status promises, beside it: the history's last event, and the fields DescribeExecution then
# holds (those that event holds). moto's interpreter sets the status first, the output, or the error and the
# cause, a moment later; a reader that stopped at the status could read null. Other statuses promise nothing.
_LAST_EVENTS = {"SUCCEEDED": "ExecutionSucceeded", "FAILED": "ExecutionFailed"}


class ExecutionNotSettledError(TimeoutError):
    """The execution had not ended, or not shown what its end promises, within the time it was awaited."""


class ExecutionStillRunningError(ExecutionNotSettledError):
    """The execution had not ended within the time it was awaited."""


@dataclass(frozen=True)
class Finished:
    """An execution that ended: its status, and its output or its error and cause."""

    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None


def run(
    state_machine_arn: str,
    execution_input: Mapping[str, Any],
    *,
    within: float,
    name: str | None = None,
    states: Any = None,
) -> Finished:
    """Start an execution and await its end, whole, for at most ``within`` seconds (``ExecutionNotSettledError``
    after: ``ExecutionStillRunningError`` while it runs)."""
    states = states or _boto3_client("stepfunctions")
    # Always named: AWS names an unnamed execution with a UUID, moto leaves $$.Execution.Name null.
    started = states.start_execution(
        stateMachineArn=state_machine_arn, input=json.dumps(execution_input), name=name or str(uuid.uuid4())
    )
    arn = started["executionArn"]
    deadline = time.monotonic() + within
    while True:
        described = states.describe_execution(executionArn=arn)
        if described["status"] == "RUNNING":
            missing = "its end"
        else:
            missing = _still_missing(states, described)
            if not missing:
                break
        if time.monotonic() >= deadline:
            if described["status"] == "RUNNING":
                raise ExecutionStillRunningError(f"{arn} still running after {within} s")
            raise ExecutionNotSettledError(f"{arn} ended {described['status']}, without {missing} after {within} s")
        time.sleep(POLL_SECONDS)  # asking moto's thread; no outcome depends on how long this takes
    output = described.get("output")
    return Finished(
        arn=arn,
        status=described["status"],
        output=json.loads(output) if output is not None else None,
        error=described.get("error"),
        cause=described.get("cause"),
    )


def _still_missing(states: Any, described: Mapping[str, Any]) -> str:
    """What the ended execution's status promises that is not there yet ("" once everything is)."""
    last_event = _LAST_EVENTS.get(described["status"])
    if last_event is None:
        return ""
    last = _last_event(states, described["executionArn"])
    if last is None or last["type"] != last_event:
        return f"its history's {last_event} event"
    if last_event == "ExecutionSucceeded":
        output = last.get("executionSucceededEventDetails", {}).get("output")
        # moto's DescribeExecution leaves out an output of null: the event's "null" is all there is to wait for.
        return "" if "output" in described or output == "null" else "its output"
    details = last.get("executionFailedEventDetails", {})
    return " and ".join(f"its {field}" for field in ("error", "cause") if field in details and field not in described)


def _history(states: Any, arn: str) -> list[dict[str, Any]]:
    """The execution's history, oldest event first (moto ignores ``reverseOrder`` and ``maxResults``)."""
    events: list[dict[str, Any]] = []
    pages = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = states.get_execution_history(**pages)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        pages["nextToken"] = page["nextToken"]


def _last_event(states: Any, arn: str) -> dict[str, Any] | None:
    events = _history(states, arn)
    return events[-1] if events else None


def state_input(execution: Finished, state: str, *, within: float, states: Any = None) -> Any:
    """The input of the last time the execution entered ``state``: what a failed execution's output cannot show.

    Read once the history holds the execution's last event (awaited for at most ``within`` seconds).
    """
    states = states or _boto3_client("stepfunctions")
    last_event = _LAST_EVENTS.get(execution.status)
    deadline = time.monotonic() + within
    while True:
        events = _history(states, execution.arn)
        if last_event is None or (events and events[-1]["type"] == last_event):
            break
        if time.monotonic() >= deadline:
            raise ExecutionNotSettledError(f"{execution.arn}: no {last_event} event in its history after {within} s")
        time.sleep(POLL_SECONDS)
    for event in reversed(events):
        entered = event.get("stateEnteredEventDetails")
        if entered is not None and entered["name"] == state:
            return json.loads(entered["input"])
    raise LookupError(f"the execution never entered {state}")


def sweep_summary(execution: Finished, *, within: float, states: Any = None) -> dict[str, Any] | None:
    """A fleet sweep's summary: its output, or when instances failed the summary its Fail state was given.

    ``None`` when the sweep ended before it had one (its discovery failed, say). ``within``: how long
    the history may take to show the execution's end.
    """
    if execution.status == "SUCCEEDED":
        summary: dict[str, Any] = execution.output
        return summary
    if execution.error != INSTANCES_FAILED:
        return None
    state, cause_path = _fail_state(FLEET_SWEEP, INSTANCES_FAILED)
    # The Fail state's cause is the summary's: "$.progress.summary.cause" says where the summary is.
    summary = state_input(execution, state, within=within, states=states)
    for key in cause_path.removeprefix("$.").split(".")[:-1]:
        summary = summary[key]
    return summary


INSTANCES_FAILED = "InstancesFailed"  # the fleet sweep's error when any instance could not be watched


def _fail_state(name: str, error: str) -> tuple[str, str]:
    """The name and ``CausePath`` of the definition's Fail state with this error."""
    states = json.loads(definition_path(name).read_text(encoding="utf-8"))["States"]
    for state, body in states.items():
        if body["Type"] == "Fail" and body.get("Error") == error:
            return state, body["CausePath"]
    raise LookupError(f"{name} has no Fail state for {error}")
