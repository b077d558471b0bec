"""template.yaml checked offline by cfn-lint and by the SAM translator itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import ROOT, TEMPLATE


def test_cfn_lint_passes() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def resources(transformed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in transformed["Resources"].items() if res["Type"] == kind}


def test_every_route_needs_iam_auth(transformed: dict[str, Any]) -> None:
    [api] = resources(transformed, "AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths) == {"/instances/{instance_id}/restores", "/openapi.json"}
    for route in paths.values():
        assert route["get"]["security"] == [{"AWS_IAM": []}]


def test_the_function_targets_python313_on_arm64_with_the_layer(transformed: dict[str, Any]) -> None:
    function = transformed["Resources"]["RestoreWatchFunction"]["Properties"]
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "restore_watch.app.lambda_handler"
    assert function["Layers"] == [{"Ref": next(iter(resources(transformed, "AWS::Lambda::LayerVersion")))}]
    assert (ROOT / "functions/restore_watch/app.py").exists()
    assert (ROOT / "layers/dcs_restores/requirements.txt").exists()


def test_failed_invokes_land_in_a_standard_queue(transformed: dict[str, Any]) -> None:
    config = transformed["Resources"]["RestoreWatchFunctionEventInvokeConfig"]["Properties"]
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["InvocationFailuresQueue", "Arn"]}
    assert "FifoQueue" not in transformed["Resources"]["InvocationFailuresQueue"]["Properties"]
    assert config["MaximumRetryAttempts"] == 2


def test_the_schedule_passes_its_input_as_is_with_retries_and_a_dlq(transformed: dict[str, Any]) -> None:
    [schedule] = resources(transformed, "AWS::Scheduler::Schedule").values()
    target = schedule["Properties"]["Target"]
    assert "<aws.scheduler.scheduled-time>" in target["Input"]["Fn::Sub"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["InvocationFailuresQueue", "Arn"]}}


def test_the_ledger_is_on_demand_with_ttl_and_point_in_time_recovery(transformed: dict[str, Any]) -> None:
    table = transformed["Resources"]["RestoreLedgerTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_alarms_dashboard_and_outputs_exist(transformed: dict[str, Any]) -> None:
    alarms = {alarm["Properties"]["MetricName"] for alarm in resources(transformed, "AWS::CloudWatch::Alarm").values()}
    assert alarms == {"Errors", "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    assert resources(transformed, "AWS::CloudWatch::Dashboard")
    assert set(transformed["Outputs"]) >= {"ApiUrl", "FunctionArn", "FailedRestoresQueueUrl", "RestoreLedgerTableName"}


def test_the_dashboard_body_is_json(transformed: dict[str, Any]) -> None:
    [dashboard] = resources(transformed, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]  # ${...} substitutions sit inside JSON strings
    assert len(widgets) == 4


def test_the_function_environment_is_what_the_settings_read(transformed: dict[str, Any]) -> None:
    from restore_watch.settings import Settings

    variables = transformed["Resources"]["RestoreWatchFunction"]["Properties"]["Environment"]["Variables"]
    ours = {name for name in variables if not name.startswith("POWERTOOLS_")}
    readable = {field.upper() for field in Settings.model_fields}
    required = {field.upper() for field, info in Settings.model_fields.items() if info.is_required()}
    assert ours <= readable, f"set but never read: {sorted(ours - readable)}"
    assert required <= ours
    assert {"DCS_CREDENTIALS_SECRET", "RESTORE_LEDGER_TABLE", "ALLOWED_PROJECT_IDS"} <= ours
