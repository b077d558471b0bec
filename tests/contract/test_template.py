"""template.yaml checked offline by cfn-lint and by the SAM translator itself."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from devkit.workflows import FUNCTIONS as LOCAL_FUNCTIONS
from devkit.workflows import LOCAL_MAP_EXECUTION_TYPE, placeholders

from .conftest import ROOT, TEMPLATE, transform_template, with_snapstart

STATE_MACHINES = {"FleetSweepStateMachine": "fleet_sweep", "WaitForRestoreStateMachine": "wait_for_restore"}
FUNCTIONS = ("RestoreWatchFunction", "DiscoverInstancesFunction", "SweepSummaryFunction")
ALIAS = "live"  # what every caller invokes: SnapStart applies to published versions only
SCHEDULES = {
    "RestoreWatchFunctionWatch": f"RestoreWatchFunctionAlias{ALIAS}",
    "FleetSweepStateMachineSweep": "FleetSweepStateMachine",
}


def cfn_lint(template: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "cfn-lint"), str(template), *options]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_cfn_lint_passes() -> None:
    done = cfn_lint(TEMPLATE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_passes_with_snapstart_decided(snapstart: bool, tmp_path: Path) -> None:
    """As deployed: the SnapStart condition's branch taken (its condition is then unused, W8001)."""
    decided = tmp_path / "template.json"
    decided.write_text(json.dumps(with_snapstart(raw_template(), snapstart)))
    done = cfn_lint(decided, "--ignore-checks", "W8001")
    assert done.returncode == 0, done.stdout + done.stderr


def resources(transformed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in transformed["Resources"].items() if res["Type"] == kind}


def test_every_route_needs_iam_auth(transformed: dict[str, Any]) -> None:
    [api] = resources(transformed, "AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths) == {"/instances/{instance_id}/restores", "/openapi.json"}
    for route in paths.values():
        assert route["get"]["security"] == [{"AWS_IAM": []}]


@pytest.mark.parametrize(
    ("name", "handler"),
    [
        ("RestoreWatchFunction", "restore_watch.app.lambda_handler"),
        ("DiscoverInstancesFunction", "discover_instances.app.lambda_handler"),
        ("SweepSummaryFunction", "sweep_summary.app.lambda_handler"),
    ],
)
def test_each_function_targets_python313_on_arm64_with_the_layer(
    transformed: dict[str, Any], name: str, handler: str
) -> None:
    function = transformed["Resources"][name]["Properties"]
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == handler
    assert function["Layers"] == [{"Ref": next(iter(resources(transformed, "AWS::Lambda::LayerVersion")))}]
    module, _, _ = handler.rpartition(".")
    assert (ROOT / "functions" / Path(*module.split("."))).with_suffix(".py").exists()
    assert (ROOT / "layers/dcs_restores/requirements.txt").exists()


def test_failed_invokes_land_in_a_standard_queue(transformed: dict[str, Any]) -> None:
    config = transformed["Resources"]["RestoreWatchFunctionEventInvokeConfig"]["Properties"]
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["InvocationFailuresQueue", "Arn"]}
    assert "FifoQueue" not in transformed["Resources"]["InvocationFailuresQueue"]["Properties"]
    assert config["MaximumRetryAttempts"] == 2


@pytest.mark.parametrize(("name", "target"), SCHEDULES.items())
def test_each_schedule_passes_its_input_as_is_with_retries_and_a_dlq(
    transformed: dict[str, Any], name: str, target: str
) -> None:
    assert set(resources(transformed, "AWS::Scheduler::Schedule")) == set(SCHEDULES)
    properties = transformed["Resources"][name]["Properties"]
    assert properties["Target"]["Arn"] in ({"Ref": target}, {"Fn::GetAtt": [target, "Arn"]})
    schedule_input = properties["Target"]["Input"]["Fn::Sub"]
    assert "<aws.scheduler.scheduled-time>" in (
        schedule_input if isinstance(schedule_input, str) else schedule_input[0]
    )
    assert properties["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert properties["Target"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["InvocationFailuresQueue", "Arn"]}}


def test_the_ledger_is_on_demand_with_ttl_and_point_in_time_recovery(transformed: dict[str, Any]) -> None:
    table = transformed["Resources"]["RestoreLedgerTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_alarms_dashboard_and_outputs_exist(transformed: dict[str, Any]) -> None:
    alarms = {alarm["Properties"]["MetricName"] for alarm in resources(transformed, "AWS::CloudWatch::Alarm").values()}
    assert alarms == {
        "Errors",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "DcsErrorsAuthError",
        "5xx",
        "ResponsesReduced",
    }
    assert resources(transformed, "AWS::CloudWatch::Dashboard")
    assert set(transformed["Outputs"]) >= {
        "ApiUrl",
        "FunctionArn",
        "FailedRestoresQueueUrl",
        "RestoreLedgerTableName",
        "FleetSweepStateMachineArn",
        "WaitForRestoreStateMachineArn",
        "AlarmTopicArn",
    }


ALARM_TARGET = {"Fn::If": ["CreatesAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}


def test_every_alarm_and_its_return_to_ok_goes_to_the_alarm_topic(transformed: dict[str, Any]) -> None:
    alarms = resources(transformed, "AWS::CloudWatch::Alarm")
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [ALARM_TARGET], name
        assert properties["OKActions"] == [ALARM_TARGET], name
    assert transformed["Outputs"]["AlarmTopicArn"]["Value"] == ALARM_TARGET


RUNBOOK = ROOT / "docs" / "runbook.md"
# The page an alarm links: where RunbookUrl says it is published, else the file in the repository
RUNBOOK_PAGE = {"Fn::If": ["HasRunbookUrl", {"Ref": "RunbookUrl"}, "docs/runbook.md"]}


def runbook_sections() -> set[str]:
    return set(re.findall(r"^## (\S+)$", RUNBOOK.read_text(), flags=re.MULTILINE))


def test_every_alarm_links_its_own_section_of_the_runbook_page(transformed: dict[str, Any]) -> None:
    alarms = resources(transformed, "AWS::CloudWatch::Alarm")
    assert RUNBOOK_PAGE["Fn::If"][2] == RUNBOOK.relative_to(ROOT).as_posix()
    for name, alarm in alarms.items():
        text, variables = alarm["Properties"]["AlarmDescription"]["Fn::Sub"]
        assert variables == {"Runbook": RUNBOOK_PAGE}, name
        # The anchor is the section's heading as mkdocs and GitHub spell it: the name, lower case
        assert text.endswith(f"the runbook: ${{Runbook}}#{name.lower()}"), f"{name}: link its runbook section"
        assert name in runbook_sections(), f"the runbook page has no section for {name}"


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(transformed: dict[str, Any]) -> None:
    # Given the topic the stack creates when no AlarmTopicArn is given
    conditions = transformed["Conditions"]
    assert conditions["CreatesAlarmTopic"] == {"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}
    topic = transformed["Resources"]["AlarmTopic"]
    assert topic["Condition"] == "CreatesAlarmTopic"
    # Then it is encrypted with its own key (CloudWatch cannot use AWS's managed SNS key), which CloudWatch may use
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = transformed["Resources"]["AlarmTopicKey"]
    assert (key["Condition"], key["Properties"]["EnableKeyRotation"]) == ("CreatesAlarmTopic", True)
    [for_cloudwatch] = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(for_cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # And CloudWatch alarms of this account may publish to it
    [statement] = transformed["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Principal"], statement["Action"]) == ({"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # And an e-mail address, when given, is subscribed to whichever topic the alarms use
    subscription = transformed["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == ALARM_TARGET
    assert subscription["Properties"]["Protocol"] == "email"


def test_every_parameter_is_described_and_constrained() -> None:
    for name, parameter in raw_template()["Parameters"].items():
        assert len(parameter.get("Description", "")) > 20, f"{name}: describe it"
        if parameter["Type"] == "Number":
            assert "AllowedValues" in parameter or {"MinValue", "MaxValue"} <= set(parameter), name
        else:
            assert "AllowedValues" in parameter or "AllowedPattern" in parameter, name
        if "Default" in parameter and "AllowedPattern" in parameter:
            assert re.fullmatch(parameter["AllowedPattern"], str(parameter["Default"])), name


def test_a_deploy_must_name_dcs_by_region_or_endpoint() -> None:
    from dcs_restores import REGIONS

    template = raw_template()
    [assertion] = template["Rules"]["DcsIsNamed"]["Assertions"]
    both_empty = {"Fn::And": [{"Fn::Equals": [{"Ref": name}, ""]} for name in ("DcsRegion", "DcsEndpoint")]}
    assert assertion["Assert"] == {"Fn::Not": [both_empty]}
    assert set(template["Parameters"]["DcsRegion"]["AllowedValues"]) == {"", *REGIONS}  # the code's own table


@pytest.mark.parametrize("function", ["RestoreWatchFunction", "DiscoverInstancesFunction", "SweepSummaryFunction"])
def test_each_function_logs_json_to_a_log_group_kept_as_long_as_the_parameter_says(
    transformed: dict[str, Any], function: str
) -> None:
    logging = transformed["Resources"][function]["Properties"]["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    group = transformed["Resources"][logging["LogGroup"]["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/${AWS::StackName}-")


def test_every_route_of_the_api_is_throttled_by_the_parameters(transformed: dict[str, Any]) -> None:
    [stage] = resources(transformed, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["ApiId"] == {"Ref": "HttpApi"}
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }
    assert "RouteSettings" not in stage["Properties"]  # no route is let off the defaults
    parameters = raw_template()["Parameters"]
    assert (parameters["ApiThrottlingRateLimit"]["Default"], parameters["ApiThrottlingBurstLimit"]["Default"]) == (
        5,
        10,
    )


DISCOVERY_CONCURRENCY = 2  # one DCS call per execution: two sweeps listing at once


def test_the_functions_that_call_dcs_have_reserved_concurrency(transformed: dict[str, Any]) -> None:
    watch = transformed["Resources"]["RestoreWatchFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert watch == {"Fn::If": ["ReservesConcurrency", {"Ref": "WatchReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    discovery = transformed["Resources"]["DiscoverInstancesFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert discovery == {"Fn::If": ["ReservesConcurrency", DISCOVERY_CONCURRENCY, {"Ref": "AWS::NoValue"}]}
    assert transformed["Conditions"]["ReservesConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "WatchReservedConcurrency"}, "0"]}]
    }
    parameters = raw_template()["Parameters"]
    # The sweep's watches fit in the reservation, with room left for the API, the schedule and wait-for-restore
    assert parameters["SweepMaxConcurrency"]["Default"] < parameters["WatchReservedConcurrency"]["Default"]


def test_the_operations_page_states_the_worst_case_of_dcs_calls_in_flight() -> None:
    """Reserved watches times the client's paging workers, plus the discovery's one call each, at the defaults."""
    import inspect

    from common import connection
    from dcs_restores import DcsRestoresClient

    workers = inspect.signature(DcsRestoresClient).parameters["max_workers"].default
    assert "max_workers" not in inspect.getsource(connection.connect)  # the functions page with the default
    watches = raw_template()["Parameters"]["WatchReservedConcurrency"]["Default"]
    worst = watches * workers + DISCOVERY_CONCURRENCY
    limits = (ROOT / "docs" / "operations.md").read_text().split("\n## Limits\n", 1)[1]
    assert f"**{worst} DCS calls in flight**" in limits
    assert f"{watches} x {workers} + {DISCOVERY_CONCURRENCY}" in limits


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_failed_and_timed_out_executions_of_each_state_machine_raise_an_alarm(
    transformed: dict[str, Any], machine: str
) -> None:
    watched = {
        alarm["Properties"]["MetricName"]
        for alarm in resources(transformed, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["Namespace"] == "AWS/States"
        and alarm["Properties"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
        and alarm["Properties"]["Threshold"] == 1
    }
    assert watched == {"ExecutionsFailed", "ExecutionsTimedOut"}


def dashboard_widgets(transformed: dict[str, Any]) -> list[dict[str, Any]]:
    [dashboard] = resources(transformed, "AWS::CloudWatch::Dashboard").values()
    body, _ = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets: list[dict[str, Any]] = json.loads(body)["widgets"]  # ${...} substitutions sit inside JSON strings
    return widgets


def charted(widgets: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(namespace, metric name) of every row, "." read as the row above's."""
    found = set()
    for widget in widgets:
        previous: list[str] = []
        for row in widget["properties"].get("metrics", []):
            names = [item for item in row if isinstance(item, str)]
            names = [previous[index] if name == "." else name for index, name in enumerate(names)]
            found.add((names[0], names[1]))
            previous = names
    return found


def test_the_dashboard_body_is_json_with_a_widget_for_each_state_machine(transformed: dict[str, Any]) -> None:
    widgets = dashboard_widgets(transformed)
    for machine in STATE_MACHINES:
        [widget] = [w for w in widgets if f"${{{machine}}}" in json.dumps(w["properties"].get("metrics"))]
        metrics = widget["properties"]["metrics"]
        assert metrics[0] == ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", f"${{{machine}}}"]
        assert {row[1] for row in metrics} >= {"ExecutionsFailed", "ExecutionsTimedOut"}


def emitted_metrics() -> set[str]:
    """Every metric name the functions emit: literal names, and the two families built from a name."""
    import dcs_restores
    from dcs_restores import DcsError, RestoreStatus

    literal: set[str] = set()
    families: set[str] = set()
    for path in [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            if getattr(node.func, "attr", None) == "add_metric":
                name = next(keyword.value for keyword in node.keywords if keyword.arg == "name")
            elif getattr(node.func, "attr", None) == "_count":  # RestoreWatch's own helper around add_metric
                name = node.args[0]
            else:
                continue
            if isinstance(name, ast.Name) and name.id == "name":  # inside _count: its callers are read instead
                continue
            if isinstance(name, ast.Constant):
                literal.add(str(name.value))
            elif isinstance(name, ast.JoinedStr) and isinstance(name.values[0], ast.Constant):
                families.add(str(name.values[0].value))
            else:
                families.add(ast.unparse(name))
    assert families == {"DcsErrors", "Records"}, "a new family of metric names: chart it, and name it here"
    errors = {
        kind
        for kind in vars(dcs_restores).values()
        if isinstance(kind, type) and issubclass(kind, DcsError) and kind is not DcsError
    }
    return (
        literal
        | {f"DcsErrors{kind.__name__.removeprefix('Dcs')}" for kind in errors}
        | {f"Records{status.value.capitalize()}" for status in RestoreStatus}
        | {"ColdStart"}  # Powertools' own, for each handler that captures it
    )


def test_every_metric_the_code_emits_has_a_place_on_the_dashboard(transformed: dict[str, Any]) -> None:
    ours = {name for namespace, name in charted(dashboard_widgets(transformed)) if namespace == "DcsRestoreWatch"}
    assert emitted_metrics() - ours == set()
    assert ours - emitted_metrics() == set(), "charted, but nothing emits it"


def test_the_dashboard_says_what_to_do_for_every_alarm_and_links_the_runbook(transformed: dict[str, Any]) -> None:
    [text] = [widget for widget in dashboard_widgets(transformed) if widget["type"] == "text"]
    markdown = text["properties"]["markdown"]
    alarms = resources(transformed, "AWS::CloudWatch::Alarm")
    for alarm in alarms:
        assert f"| {alarm} | " in markdown
    assert markdown.endswith("${Runbook}.")
    [dashboard] = resources(transformed, "AWS::CloudWatch::Dashboard").values()
    _, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    condition, linked, unlinked = variables["Runbook"]["Fn::If"]
    assert (condition, linked) == ("HasRunbookUrl", {"Fn::Sub": "[the runbook](${RunbookUrl})"})
    assert "docs/runbook.md" in unlinked
    # And the runbook page has a section for each alarm
    assert set(alarms) <= runbook_sections()


# The workflows


def raw_template() -> dict[str, Any]:
    """The template as written (the transformed one has its local files swapped for S3 locations)."""
    loaded: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return loaded


@pytest.mark.parametrize(("machine", "definition"), STATE_MACHINES.items())
def test_each_state_machine_deploys_its_asl_file_with_exactly_its_placeholders(machine: str, definition: str) -> None:
    properties = raw_template()["Resources"][machine]["Properties"]
    assert properties["DefinitionUri"] == f"statemachines/{definition}.asl.json"
    assert json.loads((ROOT / properties["DefinitionUri"]).read_text())["QueryLanguage"] == "JSONPath"
    assert set(properties["DefinitionSubstitutions"]) == placeholders(definition)


def test_the_functions_the_definitions_name_are_the_ones_run_locally(transformed: dict[str, Any]) -> None:
    """devkit.workflows serves each ARN substitution by a handler: the same one the template deploys there."""
    local = {function.substitution: function.handler for function in LOCAL_FUNCTIONS}
    for machine in STATE_MACHINES:
        substitutions = transformed["Resources"][machine]["Properties"]["DefinitionSubstitutions"]
        for key, value in substitutions.items():
            if key.endswith("FunctionArn"):
                alias = transformed["Resources"][value["Ref"]]
                assert alias["Type"] == "AWS::Lambda::Alias"
                function = alias["Properties"]["FunctionName"]["Ref"]
                assert transformed["Resources"][function]["Properties"]["Handler"] == local[key]


def test_the_sweep_runs_express_items_at_a_bounded_concurrency(transformed: dict[str, Any]) -> None:
    substitutions = transformed["Resources"]["FleetSweepStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions["MapExecutionType"] == "EXPRESS" != LOCAL_MAP_EXECUTION_TYPE  # moto knows only STANDARD
    assert substitutions["MaxConcurrency"] == {"Ref": "SweepMaxConcurrency"}
    parameter = raw_template()["Parameters"]["SweepMaxConcurrency"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (
        "Number",
        10,
        1,
        1000,
    )


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_each_state_machine_logs_errors_without_data_to_a_kept_log_group_and_is_traced(
    transformed: dict[str, Any], machine: str
) -> None:
    properties = transformed["Resources"][machine]["Properties"]
    logging = properties["LoggingConfiguration"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ERROR", False)
    [destination] = logging["Destinations"]
    [group, attribute] = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
    assert attribute == "Arn"
    log_group = transformed["Resources"][group]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert log_group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert raw_template()["Parameters"]["LogRetentionDays"]["Default"] == 30


# The sweep's schedule input, evaluated as CloudFormation would for given parameter values.


def evaluate(expression: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> Any:
    """The intrinsic functions the schedule's input uses: Ref, Fn::Sub, Fn::If, Fn::Join, Fn::Split."""
    if isinstance(expression, list):
        return [evaluate(item, parameters, conditions) for item in expression]
    if not isinstance(expression, dict):
        return expression
    [(function, argument)] = expression.items()
    if function == "Ref":
        return parameters[argument]
    if function == "Fn::If":
        name, then, otherwise = argument
        return evaluate(then if holds(conditions[name], parameters) else otherwise, parameters, conditions)
    if function == "Fn::Join":
        return argument[0].join(evaluate(argument[1], parameters, conditions))
    if function == "Fn::Split":
        return evaluate(argument[1], parameters, conditions).split(argument[0])
    if function == "Fn::Sub":
        text, names = (argument, {}) if isinstance(argument, str) else argument
        values = {**parameters, **{name: evaluate(value, parameters, conditions) for name, value in names.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda match: values[match[1]], text)
    raise AssertionError(f"not evaluated here: {function}")


def holds(condition: Any, parameters: dict[str, str]) -> bool:
    [(function, argument)] = condition.items()
    if function == "Fn::Not":
        return not holds(argument[0], parameters)
    assert function == "Fn::Equals"
    left, right = (evaluate(side, parameters, {}) for side in argument)
    return bool(left == right)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, {"status": None, "name": None, "tags": {}}),
        (
            {"SweepStatusFilter": "RUNNING", "SweepNameFilter": "orders cache", "SweepTagFilter": "env=prod"},
            {"status": "RUNNING", "name": "orders cache", "tags": {"env": "prod"}},
        ),
        (
            {"SweepTagFilter": "env=prod,team=cache,empty="},
            {"status": None, "name": None, "tags": {"env": "prod", "team": "cache", "empty": ""}},
        ),
    ],
    ids=["project-wide", "every-filter", "several-tags"],
)
def test_the_sweep_schedule_input_is_json_the_discovery_reads(
    filters: dict[str, str], expected: dict[str, Any]
) -> None:
    from common.sweep import SweepEvent

    template = raw_template()
    parameters = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()} | filters
    for name, value in filters.items():
        assert re.fullmatch(template["Parameters"][name]["AllowedPattern"], value), name
    schedule = template["Resources"]["FleetSweepStateMachine"]["Properties"]["Events"]["Sweep"]["Properties"]
    text = evaluate(schedule["Input"], parameters, template["Conditions"])
    event = json.loads(text.replace("<aws.scheduler.scheduled-time>", "2024-03-01T12:00:00Z"))
    assert event == {"scheduled_time": "2024-03-01T12:00:00Z", "lookback": "PT6H", **expected}
    SweepEvent.model_validate(event)  # the discovery function takes it as it comes


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("SweepNameFilter", 'a", "status": "X'),
        ("SweepNameFilter", "back\\slash"),
        ("SweepNameFilter", "new\nline"),
        ("SweepTagFilter", 'env=prod"}'),
        ("SweepTagFilter", "env"),
        ("SweepTagFilter", ",".join(f"k{n}=v" for n in range(21))),
        ("SweepStatusFilter", "running"),
        ("ScheduleLookback", 'PT6H", "x": "'),
    ],
)
def test_filter_parameters_that_would_break_the_schedule_input_are_refused(parameter: str, value: str) -> None:
    pattern = raw_template()["Parameters"][parameter]["AllowedPattern"]
    assert not re.fullmatch(pattern, value)


# SnapStart, and the alias every caller invokes


def alias(function: str) -> str:
    return f"{function}Alias{ALIAS}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_publishes_versions_behind_its_alias_with_snapstart_as_the_parameter_says(
    transformed: dict[str, Any], snapstart: bool, function: str
) -> None:
    generated = transformed["Resources"]
    assert generated[function]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions" if snapstart else "None"}
    properties = generated[alias(function)]["Properties"]
    assert (properties["Name"], properties["FunctionName"]) == (ALIAS, {"Ref": function})
    [version, attribute] = properties["FunctionVersion"]["Fn::GetAtt"]
    assert (generated[version]["Type"], attribute) == ("AWS::Lambda::Version", "Version")
    assert generated[version]["Properties"]["FunctionName"] == {"Ref": function}


def test_turning_snapstart_on_or_off_publishes_new_versions() -> None:
    """A snapshot is taken when a version is published, and SAM's version hash leaves the parameter out.

    The versions' description follows the parameter instead: AWS::Lambda::Version replaces itself (publishes
    anew) when its description changes.
    """
    off, on = transform_template(snapstart=False), transform_template(snapstart=True)
    for function in FUNCTIONS:
        descriptions = set()
        for template in (off, on):
            [version, _] = template["Resources"][alias(function)]["Properties"]["FunctionVersion"]["Fn::GetAtt"]
            descriptions.add(template["Resources"][version]["Properties"]["Description"])
        assert len(descriptions) == 2, function


def test_every_caller_invokes_the_alias(transformed: dict[str, Any]) -> None:
    generated = transformed["Resources"]
    watch = alias("RestoreWatchFunction")
    [api] = resources(transformed, "AWS::ApiGatewayV2::Api").values()
    for route in api["Properties"]["Body"]["paths"].values():
        uri = route["get"]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        assert uri.endswith(f"/functions/${{{watch}}}/invocations")
    for permission in resources(transformed, "AWS::Lambda::Permission").values():
        assert permission["Properties"]["FunctionName"] == {"Ref": watch}
    assert generated["RestoreWatchFunctionWatch"]["Properties"]["Target"]["Arn"] == {"Ref": watch}
    invoke_config = generated["RestoreWatchFunctionEventInvokeConfig"]["Properties"]
    assert (invoke_config["FunctionName"], invoke_config["Qualifier"]) == ({"Ref": "RestoreWatchFunction"}, ALIAS)
    for machine in STATE_MACHINES:
        substitutions = generated[machine]["Properties"]["DefinitionSubstitutions"]
        arns = {value["Ref"] for key, value in substitutions.items() if key.endswith("FunctionArn")}
        assert arns <= {alias(function) for function in FUNCTIONS}
        assert arns
    # Whoever may invoke a function may invoke only its alias.
    for role in resources(transformed, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if "lambda:InvokeFunction" in json.dumps(statement["Action"]):
                    targets = (
                        statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    )
                    assert {target["Ref"] for target in targets} <= {alias(function) for function in FUNCTIONS}
    assert transformed["Outputs"]["FunctionArn"]["Value"] == {"Ref": watch}


def test_only_this_account_s_alarms_may_use_the_alarm_topic_s_key() -> None:
    key = raw_template()["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [statement for statement in key if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
