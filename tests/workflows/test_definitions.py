"""The ASL files and ``devkit.workflows.render``, the one way they are filled in outside CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from devkit.workflows import FLEET_SWEEP, WAIT_FOR_RESTORE, definition_path, placeholders, render

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
