"""template.yaml checked offline by cfn-lint and by the SAM translator itself."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).parent.parent.parent
TEMPLATE = ROOT / "template.yaml"


class OfflinePolicyLoader:
    """The translator asks IAM for managed policy ARNs; answer from a table instead."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }


@pytest.fixture(scope="module")
def transformed() -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        template = yaml_parse(TEMPLATE.read_text())
        for resource in template["Resources"].values():
            properties = resource.get("Properties", {})
            for key in ("CodeUri", "ContentUri"):
                if key in properties:
                    properties[key] = f"s3://placeholder-bucket/{key}.zip"
        yield transform(template, {}, OfflinePolicyLoader())


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


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_the_function_role_allows_only_what_the_code_calls(transformed: dict[str, Any]) -> None:
    role = transformed["Resources"]["RestoreWatchFunctionRole"]
    granted = {
        action
        for statement in statements(role)
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert granted == {
        "sqs:SendMessage",  # SendMessageBatch to the failed-restores queue; on-failure destination
        "secretsmanager:GetSecretValue",
        "dynamodb:PutItem",
        "dynamodb:GetItem",  # a refused claim is read back: forwarded, or held by another run
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    for statement in statements(role):
        assert "*" not in json.dumps(statement["Resource"]).replace("${AWS::", "")


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
