"""The ASL files and ``devkit.workflows.render``, the one way they are filled in outside CloudFormation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from devkit.workflows import FLEET_SWEEP, WAIT_FOR_RESTORE, definition_path, placeholders, render

from . import stated

SUBSTITUTIONS = {
    FLEET_SWEEP: {
        "DiscoverInstancesFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:discover",
        "RestoreWatchFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:watch",
        "SweepSummaryFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:summary",
        "MaxConcurrency": "10",
        "MapExecutionType": "EXPRESS",
    },
    WAIT_FOR_RESTORE: {"RestoreWatchFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:watch"},
}


@pytest.mark.parametrize("name", [FLEET_SWEEP, WAIT_FOR_RESTORE])
def test_each_file_is_jsonpath_asl_and_renders_with_its_substitutions(name: str) -> None:
    assert json.loads(definition_path(name).read_text())["QueryLanguage"] == "JSONPath"  # moto runs no JSONata
    assert placeholders(name) == set(SUBSTITUTIONS[name])
    rendered = render(name, SUBSTITUTIONS[name])
    assert "${" not in rendered
    for value in SUBSTITUTIONS[name].values():
        assert value in rendered


def test_the_sweep_reads_its_concurrency_from_the_substitution() -> None:
    definition = json.loads(render(FLEET_SWEEP, SUBSTITUTIONS[FLEET_SWEEP]))
    start = definition["States"]["Start"]["Parameters"]["settings"]
    assert start["max_concurrency.$"] == "States.StringToJson('10')"
    assert definition["States"]["Watch instances"]["MaxConcurrencyPath"] == "$.settings.max_concurrency"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda given: given.pop("MaxConcurrency"), "missing ['MaxConcurrency']"),
        (lambda given: given.update(Extra="x"), "unused ['Extra']"),
    ],
    ids=["missing", "unused"],
)
def test_render_refuses_substitutions_that_do_not_match_the_placeholders(
    change: Callable[[dict[str, str]], object], message: str
) -> None:
    given = dict(SUBSTITUTIONS[FLEET_SWEEP])
    change(given)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        render(FLEET_SWEEP, given)


def test_render_refuses_a_value_that_breaks_the_json() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        render(WAIT_FOR_RESTORE, {"RestoreWatchFunctionArn": 'arn"'})


def _lambda_tasks(states: dict[str, Any]) -> list[dict[str, Any]]:
    tasks = []
    for state in states.values():
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            tasks.append(state)
        if "ItemProcessor" in state:
            tasks.extend(_lambda_tasks(state["ItemProcessor"]["States"]))
    return tasks


@pytest.mark.parametrize("name", [FLEET_SWEEP, WAIT_FOR_RESTORE])
def test_every_lambda_task_retries_lambda_s_passing_errors_snapstart_s_included(name: str) -> None:
    passing = {
        "Lambda.ServiceException",
        "Lambda.TooManyRequestsException",
        "Lambda.SnapStartException",
        "Lambda.SnapStartNotReadyException",
        "Lambda.SnapStartTimeoutException",
    }
    tasks = _lambda_tasks(json.loads(definition_path(name).read_text())["States"])
    assert tasks
    for task in tasks:
        retried = {error for retry in task["Retry"] for error in retry["ErrorEquals"]}
        assert passing <= retried, task.get("Comment")


# The errors each Retry and Catch names, held to the code's errors and to what the docs state.

WATCH_FUNCTION = "${RestoreWatchFunctionArn}"
DISCOVER_FUNCTION = "${DiscoverInstancesFunctionArn}"
SUMMARY_FUNCTION = "${SweepSummaryFunctionArn}"
# Named by Step Functions for a Lambda task whose invocation failed on its way (not in Lambda's own API model).
LAMBDA_INTEGRATION_ERRORS = {"AWSLambdaException", "SdkClientException"}
# A task's clock starts before Lambda's init, which may take up to 10 s; the time limit starts with the handler.
LAMBDA_INIT_SECONDS = 10


def definition(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(definition_path(name).read_text())
    return loaded


def lambda_tasks(name: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each Lambda task of the definition, with the Map state whose items it runs (None at the top)."""

    def walk(states: dict[str, Any], within: dict[str, Any] | None) -> list[tuple[dict[str, Any], Any]]:
        found = []
        for state in states.values():
            if state.get("Resource") == "arn:aws:states:::lambda:invoke":
                found.append((state, within))
            if "ItemProcessor" in state:
                found.extend(walk(state["ItemProcessor"]["States"], state))
        return found

    return walk(definition(name)["States"], None)


def calling(name: str, function: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    return [(task, within) for task, within in lambda_tasks(name) if task["Parameters"]["FunctionName"] == function]


def every_state(states: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in states.values():
        found.append(state)
        if "ItemProcessor" in state:
            found.extend(every_state(state["ItemProcessor"]["States"]))
    return found


def family(root: type[Exception]) -> set[type[Exception]]:
    """``root`` and every error class derived from it."""
    return {root}.union(*(family(kind) for kind in root.__subclasses__()))


def named_errors() -> set[str]:
    """Every error the functions raise by name: every function's, the watch's, the layer's DCS errors, the summary's."""
    from common.errors import NAMED_ERRORS as SHARED  # the discovery raises these, and has none of its own
    from dcs_restores import DcsError
    from restore_watch.errors import NAMED_ERRORS as WATCH
    from sweep_summary.summary import InvalidSummaryInputError

    return {kind.__name__ for root in (*SHARED, *WATCH, DcsError, InvalidSummaryInputError) for kind in family(root)}


def aws_errors() -> set[str]:
    """The names Step Functions' interpreter knows (``States.*``) and Lambda's errors (``Lambda.*``)."""
    import botocore.session
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    lambda_model = botocore.session.get_session().get_service_model("lambda")
    lambdas = {shape.name for shape in lambda_model.error_shapes} | LAMBDA_INTEGRATION_ERRORS
    return {name.to_name() for name in StatesErrorNameType} | {f"Lambda.{name}" for name in lambdas}


def retried(task: dict[str, Any]) -> list[str]:
    return [error for retry in task.get("Retry", []) for error in retry["ErrorEquals"]]


@pytest.mark.parametrize("name", [FLEET_SWEEP, WAIT_FOR_RESTORE])
def test_every_error_a_retry_or_catch_names_is_one_the_functions_or_aws_raise(name: str) -> None:
    known = named_errors() | aws_errors()
    for state in every_state(definition(name)["States"]):
        for handler in [*state.get("Retry", []), *state.get("Catch", [])]:
            unknown = set(handler["ErrorEquals"]) - known
            assert not unknown, f"{name}: no function or AWS raises {sorted(unknown)} ({state.get('Comment')})"


@pytest.mark.parametrize("name", [FLEET_SWEEP, WAIT_FOR_RESTORE])
def test_every_task_that_calls_the_watch_retries_every_error_the_docs_call_retryable(name: str) -> None:
    retryable = stated.retried_error_names()
    assert {"DcsUnavailableError", "DcsTimeoutError", "ForwardingError", "LedgerUnavailableError"} <= retryable
    tasks = calling(name, WATCH_FUNCTION)
    assert tasks
    for task, _ in tasks:
        assert retryable <= set(retried(task)), task.get("Comment")


def test_discover_retries_every_retryable_error_but_forwarding_s() -> None:
    from restore_watch.forwarding import ForwardingError

    forwarding = {ForwardingError.__name__, *(kind.__name__ for kind in ForwardingError.__subclasses__())}
    [(discover, _)] = calling(FLEET_SWEEP, DISCOVER_FUNCTION)
    assert stated.retried_error_names() - forwarding <= set(retried(discover))


@pytest.mark.parametrize("name", [FLEET_SWEEP, WAIT_FOR_RESTORE])
def test_every_retry_makes_the_attempts_the_docs_state(name: str) -> None:
    retries = [retry for state in every_state(definition(name)["States"]) for retry in state.get("Retry", [])]
    assert retries
    assert {retry["MaxAttempts"] for retry in retries} == {stated.retry_attempts()}


def test_an_instance_whose_watch_fails_in_any_way_is_caught_and_the_sweep_goes_on() -> None:
    [(watch, sweep_map)] = calling(FLEET_SWEEP, WATCH_FUNCTION)
    assert sweep_map is not None
    caught = {error for catch in watch["Catch"] for error in catch["ErrorEquals"]}
    assert "States.ALL" in caught  # States.TaskFailed, say, would let States.Timeout fail the whole sweep
    [catch_all] = [catch for catch in watch["Catch"] if "States.ALL" in catch["ErrorEquals"]]
    assert sweep_map["ItemProcessor"]["States"][catch_all["Next"]]["Type"] == "Pass"


@pytest.mark.parametrize("name", [FLEET_SWEEP, WAIT_FOR_RESTORE])
def test_a_watch_s_time_limit_ends_its_work_before_its_step_s_timeout(name: str) -> None:
    from restore_watch.triggers import MIN_TIME_LIMIT_SECONDS

    for task, within in calling(name, WATCH_FUNCTION):
        if "TimeoutSeconds" not in task:
            continue  # the function's own timeout ends it, and Lambda's retried error names the cause
        # The event is the task's Payload, or, when the task passes its input on, the Map item it was given.
        payload = task["Parameters"].get("Payload")
        event = within["ItemSelector"] if payload is None and within is not None else payload
        assert event is not None, task.get("Comment")
        limit = event.get("time_limit_seconds")
        assert isinstance(limit, int), f"{name}: a watch with a TimeoutSeconds needs a time_limit_seconds"
        assert limit >= MIN_TIME_LIMIT_SECONDS
        assert limit + LAMBDA_INIT_SECONDS <= task["TimeoutSeconds"], task.get("Comment")


# The errors each function calls retryable, held to the Retry of every task that calls it.


def retryable_names(roots: tuple[type[Exception], ...]) -> set[str]:
    return {kind.__name__ for root in roots for kind in family(root)}


def retryable_by_function() -> dict[str, set[str]]:
    """What each function raises that may pass on its own, by the placeholder of its ARN."""
    from common.errors import RETRYABLE_ERRORS
    from restore_watch.errors import WATCH_RETRYABLE_ERRORS

    return {
        WATCH_FUNCTION: retryable_names(WATCH_RETRYABLE_ERRORS),
        DISCOVER_FUNCTION: retryable_names(RETRYABLE_ERRORS),  # the discovery forwards nothing
        SUMMARY_FUNCTION: set(),  # pure: what fails it fails again
    }


@pytest.mark.parametrize("name", [FLEET_SWEEP, WAIT_FOR_RESTORE])
def test_every_task_retries_exactly_the_named_errors_its_function_calls_retryable(name: str) -> None:
    retryable = retryable_by_function()
    assert {"ForwardingError", "LedgerUnavailableError", "SecretUnavailableError"} <= retryable[WATCH_FUNCTION]
    ours = named_errors()
    for task, _ in lambda_tasks(name):
        function = task["Parameters"]["FunctionName"]
        assert set(retried(task)) & ours == retryable[function], (name, function)


def test_the_code_calls_retryable_what_the_table_of_error_names_does() -> None:
    assert retryable_by_function()[WATCH_FUNCTION] == stated.retried_error_names()


# The sweep's contract: every path the ASL reads is a field of the model that declares what it reads.

_SELECTED = re.compile(r"\$\$?(?:\.[A-Za-z_][A-Za-z0-9_]*)+")  # a JSONPath of plain names ($.a.b, $$.Map.Item)


def answers() -> dict[str, type[BaseModel]]:
    """The answer each function returns (what a task's ``$.Payload`` holds), by the placeholder of its ARN."""
    from common.sweep import DiscoveredPage, SummaryAnswer
    from restore_watch.payload import RestorePayload

    return {WATCH_FUNCTION: RestorePayload, DISCOVER_FUNCTION: DiscoveredPage, SUMMARY_FUNCTION: SummaryAnswer}


def sweep_state() -> dict[str, type[BaseModel]]:
    """What the fleet sweep's state holds, by path: ``$.progress`` as Summarise reads it, a Map item as listed.

    ``$.settings`` is the ASL's own (its Start state writes it) and the execution's context is Step Functions'.
    """
    from common.sweep import InstanceToWatch, SummaryInput

    return {"$.progress": SummaryInput, "$$.Map.Item.Value": InstanceToWatch}


def has_path(model: Any, names: list[str]) -> bool:
    """Whether ``model`` (a pydantic model, or a type wrapping some: optional, list, union) has ``names`` in turn."""
    if not names:
        return True
    if isinstance(model, type) and issubclass(model, BaseModel):
        field = model.model_fields.get(names[0])
        return field is not None and has_path(field.annotation, names[1:])
    return any(has_path(argument, names) for argument in get_args(model))


def paths(value: Any) -> list[str]:
    """Every JSONPath a definition's value reads: in ``key.$`` values (intrinsic functions too), ``*Path`` keys
    and a Choice's ``Variable``; not where a state writes (``ResultPath``), selects a result or runs a Map's items."""
    if isinstance(value, list):
        return [path for item in value for path in paths(item)]
    if not isinstance(value, dict):
        return []
    found = []
    for key, item in value.items():
        if key in ("ResultPath", "ResultSelector", "ItemProcessor"):
            continue
        if isinstance(item, str) and (key.endswith((".$", "Path")) or key == "Variable"):
            found += _SELECTED.findall(item)
        else:
            found += paths(item)
    return found


def unread(value: Any, roots: dict[str, type[BaseModel]], foreign: tuple[str, ...]) -> list[str]:
    """The paths ``value`` reads that no model of ``roots`` has (those under ``foreign`` are not the code's)."""
    missing = []
    for path in paths(value):
        if path.startswith(foreign):
            continue
        root = next((root for root in roots if path == root or path.startswith(root + ".")), None)
        names = path.removeprefix(root or "").strip(".").split(".") if root != path else []
        if root is None or not has_path(roots[root], names):
            missing.append(path)
    return missing


@pytest.mark.parametrize("name", [FLEET_SWEEP, WAIT_FOR_RESTORE])
def test_every_result_selector_reads_a_field_of_the_answer_of_the_function_it_calls(name: str) -> None:
    for task, _ in lambda_tasks(name):
        answer = answers()[task["Parameters"]["FunctionName"]]
        selected = paths(task["ResultSelector"])
        assert selected
        for path in selected:
            assert path.startswith("$.Payload."), path
            assert has_path(answer, path.removeprefix("$.Payload.").split(".")), f"{answer.__name__} has no {path}"


def test_every_path_the_sweep_reads_of_its_state_is_a_field_of_the_sweep_s_contract() -> None:
    from restore_watch.triggers import DirectInput

    states = definition(FLEET_SWEEP)["States"]
    read = paths(states)
    assert {"$.progress.page.sweep.begin_time", "$$.Map.Item.Value.instance_id", "$.progress.page.next"} <= set(read)
    # $.settings is the ASL's own (its Start state writes it); the execution's context is Step Functions'
    assert unread(states, sweep_state(), ("$.settings", "$$.Execution")) == []
    # Inside the Map, the state is the item the watch is given, and the error a Catch puts beside it
    [items] = [state["ItemProcessor"]["States"] for state in states.values() if "ItemProcessor" in state]
    assert "$.instance_id" in paths(items)
    assert unread(items, {"$": DirectInput}, ("$.error.", "$$.Execution")) == []


def test_what_the_tasks_give_each_function_is_what_it_reads() -> None:
    from common.sweep import SummaryInput, SweepEvent
    from restore_watch.triggers import DirectInput, SchedulerInput

    sweep = definition(FLEET_SWEEP)["States"]
    paging = sweep["Start"]["Parameters"]["settings"]["paging"]
    assert "$.settings.paging" in sweep["Discover"]["Parameters"]["Payload.$"]  # merged into the page's event
    assert set(paging) <= set(SweepEvent.model_fields)
    assert {key.removesuffix(".$") for key in sweep["Summarise"]["Parameters"]["Payload"]} == set(
        SummaryInput.model_fields
    )
    item = {key.removesuffix(".$") for key in sweep["Watch instances"]["ItemSelector"]}
    assert item <= set(DirectInput.model_fields)
    wait = definition(WAIT_FOR_RESTORE)["States"]["Watch"]["Parameters"]["Payload"]
    assert {key.removesuffix(".$") for key in wait} <= set(SchedulerInput.model_fields)


def test_the_numbers_the_asl_and_the_code_share_are_equal() -> None:
    from common.sweep import PAGE_SIZE
    from restore_watch.limits import MIN_RESPONSE_BYTES

    sweep = definition(FLEET_SWEEP)["States"]
    assert sweep["Start"]["Parameters"]["settings"]["paging"]["page_size"] == PAGE_SIZE
    # Each workflow asks the watch for the smallest answer it gives: far below a state's 256 KB
    watch_events = [
        sweep["Watch instances"]["ItemSelector"],
        definition(WAIT_FOR_RESTORE)["States"]["Watch"]["Parameters"]["Payload"],
    ]
    assert [event["max_response_bytes"] for event in watch_events] == [MIN_RESPONSE_BYTES] * 2
