"""Least privilege: every IAM grant in the transformed template is needed, and none is a wildcard.

The function role is held to what the code calls. The AWS operations are read from the source (boto3
client methods of the services it makes clients for, and Powertools' parameter helpers), each mapped
to the IAM action that authorises it and to the resource the code reaches it through: the function's
setting for that service, as the template fills it in. What the platform needs on the code's behalf
(Lambda's on-failure destination, the schedule's role) is listed below with its reason, and so is
every AWS-managed policy a role may carry.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from .conftest import ROOT

SOURCES = (ROOT / "functions/restore_watch", ROOT / "layers/dcs_restores/dcs_restores")
FUNCTION = "RestoreWatchFunction"
FUNCTION_ROLE = "RestoreWatchFunctionRole"

# The IAM action that authorises each operation the code may call, by the method boto3 gives it.
IAM_ACTIONS: dict[tuple[str, str], str] = {
    ("sqs", "send_message_batch"): "sqs:SendMessage",  # SendMessageBatch is authorised by sqs:SendMessage
    ("dynamodb", "put_item"): "dynamodb:PutItem",
    ("dynamodb", "update_item"): "dynamodb:UpdateItem",
    ("dynamodb", "delete_item"): "dynamodb:DeleteItem",
    ("secretsmanager", "get_secret_value"): "secretsmanager:GetSecretValue",
}
# Powertools' parameter helpers call AWS for the code: the operation behind each.
POWERTOOLS_PARAMETERS = "aws_lambda_powertools.utilities.parameters"
POWERTOOLS_HELPERS: dict[str, tuple[str, str]] = {
    "get_secret": ("secretsmanager", "get_secret_value"),
    "get_parameter": ("ssm", "get_parameter"),
    "get_parameters": ("ssm", "get_parameters_by_path"),
}
# The setting through which the code reaches each service's resource.
SERVICE_SETTINGS = {
    "sqs": "FAILED_RESTORES_QUEUE_URL",
    "dynamodb": "RESTORE_LEDGER_TABLE",
    "secretsmanager": "DCS_CREDENTIALS_SECRET",
}
# Grants the code does not call but needs, per role: (IAM action, logical ID of the resource) -> why.
PLATFORM_GRANTS: dict[str, dict[tuple[str, str], str]] = {
    FUNCTION_ROLE: {
        ("sqs:SendMessage", "InvocationFailuresQueue"): "Lambda sends failed async events there with this role",
    },
    "RestoreWatchFunctionWatchRole": {
        ("lambda:InvokeFunction", FUNCTION): "EventBridge Scheduler invokes the function with this role",
        ("sqs:SendMessage", "InvocationFailuresQueue"): "the schedule's dead-letter queue",
    },
}
# AWS-managed policies a role may carry. AWS maintains them and their statements use Resource "*": Lambda
# creates the log group on first write, and X-Ray has no resource-level permissions. These two are
# accepted as they are; any other managed policy fails the review.
MANAGED_POLICIES: dict[str, dict[str, str]] = {
    FUNCTION_ROLE: {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
            "logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents: the function's logs"
        ),
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
            "Tracing: Active: xray:PutTraceSegments, xray:PutTelemetryRecords and the sampling reads"
        ),
    },
}
# Inline statements allowed a wildcard in Action or Resource: (role, action) -> why. None need one.
WILDCARD_EXCEPTIONS: dict[tuple[str, str], str] = {}


# What the code calls


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str  # as boto3 names the method
    where: str


@cache
def operations(service: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model(service)
    return frozenset(xform_name(name) for name in model.operation_names)


def _literal(node: ast.Call, keyword: str) -> str | None:
    argument = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == keyword), None)
    return argument.value if isinstance(argument, ast.Constant) and isinstance(argument.value, str) else None


def aws_calls(sources: Iterable[Path], root: Path = ROOT) -> set[AwsCall]:
    """The AWS operations the code under ``sources`` calls.

    A method call counts as a boto3 operation when its name is an operation of a service the code makes
    a client for (``<anything>.client("sqs")``): clients are passed around under other names. So
    pydantic's ``SecretStr.get_secret_value()`` is not Secrets Manager's, as no such client is made.
    """
    trees = {
        path: ast.parse(path.read_text(), str(path)) for source in sources for path in sorted(source.rglob("*.py"))
    }
    services: set[str] = set()
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client":
                service = _literal(node, "service_name")
                assert service, f"{path.relative_to(root)}:{node.lineno}: a client whose service cannot be read"
                services.add(service)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "resource":
                raise AssertionError(f"{path.relative_to(root)}:{node.lineno}: boto3 resources are not reviewed here")
    by_operation: dict[str, set[str]] = {}
    for service in services:
        for operation in operations(service):
            by_operation.setdefault(operation, set()).add(service)
    calls: set[AwsCall] = set()
    for path, tree in trees.items():
        helpers, modules = _powertools_names(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(root)}:{node.lineno}"
            helper = None
            if isinstance(node.func, ast.Name):
                helper = helpers.get(node.func.id)
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                helper = node.func.attr if node.func.value.id in modules else None
            if helper is not None:
                assert helper in POWERTOOLS_HELPERS, f"{where}: Powertools' {helper}: add it to POWERTOOLS_HELPERS"
                calls.add(AwsCall(*POWERTOOLS_HELPERS[helper], where))
            elif isinstance(node.func, ast.Attribute) and node.func.attr in by_operation:
                candidates = by_operation[node.func.attr]
                assert len(candidates) == 1, f"{where}: {node.func.attr} could be any of {sorted(candidates)}"
                calls.add(AwsCall(next(iter(candidates)), node.func.attr, where))
    return calls


def _powertools_names(tree: ast.AST) -> tuple[dict[str, str], set[str]]:
    """Local names of Powertools' parameter helpers (local -> helper), and of the module itself."""
    helpers: dict[str, str] = {}
    modules: set[str] = set()
    package, _, module = POWERTOOLS_PARAMETERS.rpartition(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == POWERTOOLS_PARAMETERS:
            helpers.update({alias.asname or alias.name: alias.name for alias in node.names})
        elif isinstance(node, ast.ImportFrom) and node.module == package:
            modules.update(alias.asname or alias.name for alias in node.names if alias.name == module)
        elif isinstance(node, ast.Import):
            modules.update(alias.asname for alias in node.names if alias.name == POWERTOOLS_PARAMETERS and alias.asname)
    return helpers, modules


# What the template grants


def roles(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: res["Properties"] for name, res in transformed["Resources"].items() if res["Type"] == "AWS::IAM::Role"
    }


def statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role.get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def referenced(expression: Any) -> set[str]:
    """The logical IDs (resources, parameters) an intrinsic expression refers to."""
    names: set[str] = set()
    if isinstance(expression, dict):
        for key, value in expression.items():
            if key == "Ref" and isinstance(value, str):
                names.add(value)
            elif key == "Fn::GetAtt":
                names.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                template, variables = (value, {}) if isinstance(value, str) else value
                names |= {n for n in re.findall(r"\$\{([^}!.]+)", template) if n not in variables and "::" not in n}
                names |= referenced(variables)
            else:
                names |= referenced(value)
    elif isinstance(expression, list):
        for item in expression:
            names |= referenced(item)
    return names


def literal_strings(expression: Any) -> Iterator[str]:
    """The literal text in an expression: plain strings and Sub templates, not the logical IDs it names."""
    if isinstance(expression, str):
        yield expression
    elif isinstance(expression, list):
        for item in expression:
            yield from literal_strings(item)
    elif isinstance(expression, dict):
        for key, value in expression.items():
            if key == "Fn::Sub":
                template, variables = (value, {}) if isinstance(value, str) else value
                yield re.sub(r"\$\{[^}]*\}", "", template)
                yield from literal_strings(variables)
            elif key not in ("Ref", "Fn::GetAtt"):
                yield from literal_strings(value)


def grants(role: dict[str, Any]) -> set[tuple[str, str]]:
    """(IAM action, logical ID of the resource) for each Allow; a resource naming no logical ID stays literal."""
    granted: set[tuple[str, str]] = set()
    for statement in statements(role):
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action", [])):
            for resource in as_list(statement.get("Resource", [])):
                for name in referenced(resource) or {json.dumps(resource)}:
                    granted.add((action, name))
    return granted


def wildcards(role: str, statement: dict[str, Any], exceptions: dict[tuple[str, str], str]) -> list[str]:
    """What in one statement grants by wildcard, less the excepted (role, action) pairs."""
    problems = [
        f"{role}: {key} grants all but what it lists" for key in ("NotAction", "NotResource") if key in statement
    ]
    actions = as_list(statement.get("Action", []))
    for action in actions:
        if "*" in action and (role, action) not in exceptions:
            problems.append(f"{role}: wildcard action {action}")
    wide = [text for text in literal_strings(statement.get("Resource", [])) if "*" in text]
    for action in actions:
        if wide and (role, action) not in exceptions:
            problems.append(f"{role}: {action} on wildcard resource {wide}")
    return problems


# The review


@pytest.fixture(scope="module")
def calls() -> set[AwsCall]:
    return aws_calls(SOURCES)


def test_the_function_runs_as_the_reviewed_role(transformed: dict[str, Any]) -> None:
    function = transformed["Resources"][FUNCTION]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": [FUNCTION_ROLE, "Arn"]}


def test_every_role_is_reviewed(transformed: dict[str, Any]) -> None:
    assert set(roles(transformed)) == set(PLATFORM_GRANTS)


def test_every_operation_the_code_calls_has_an_iam_action(calls: set[AwsCall]) -> None:
    unmapped = sorted(
        f"{call.where}: {call.service}.{call.operation}"
        for call in calls
        if (call.service, call.operation) not in IAM_ACTIONS
    )
    assert not unmapped, f"add the IAM action for each to IAM_ACTIONS: {unmapped}"
    assert {call.service for call in calls} <= set(SERVICE_SETTINGS)


def test_the_function_role_grants_exactly_what_the_code_and_the_platform_need(
    transformed: dict[str, Any], calls: set[AwsCall]
) -> None:
    environment = transformed["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    needed: dict[tuple[str, str], str] = {}
    for call in calls:
        [resource] = referenced(environment[SERVICE_SETTINGS[call.service]])
        needed[(IAM_ACTIONS[(call.service, call.operation)], resource)] = (
            f"{call.service}.{call.operation} at {call.where}"
        )
    needed |= PLATFORM_GRANTS[FUNCTION_ROLE]
    granted = grants(roles(transformed)[FUNCTION_ROLE])
    assert not granted - needed.keys(), f"granted, but nothing needs it: {sorted(granted - needed.keys())}"
    missing = {grant: needed[grant] for grant in needed.keys() - granted}
    assert not missing, f"needed, but not granted: {missing}"


@pytest.mark.parametrize("role", sorted(set(PLATFORM_GRANTS) - {FUNCTION_ROLE}))
def test_the_other_roles_grant_only_what_their_service_needs(transformed: dict[str, Any], role: str) -> None:
    assert grants(roles(transformed)[role]) == set(PLATFORM_GRANTS[role])


def test_no_role_grants_by_wildcard(transformed: dict[str, Any]) -> None:
    problems = [
        problem
        for name, role in roles(transformed).items()
        for statement in statements(role)
        for problem in wildcards(name, statement, WILDCARD_EXCEPTIONS)
    ]
    assert not problems


def test_managed_policies_are_only_the_listed_aws_ones(transformed: dict[str, Any]) -> None:
    for name, role in roles(transformed).items():
        assert set(role.get("ManagedPolicyArns", [])) == set(MANAGED_POLICIES.get(name, {})), name


def test_roles_are_assumed_by_one_named_service_each(transformed: dict[str, Any]) -> None:
    expected = {FUNCTION_ROLE: "lambda.amazonaws.com", "RestoreWatchFunctionWatchRole": "scheduler.amazonaws.com"}
    for name, role in roles(transformed).items():
        [trust] = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Effect"] == "Allow"
        assert as_list(trust["Action"]) == ["sts:AssumeRole"]
        assert trust["Principal"] == {"Service": [expected[name]]}, name


def test_the_api_may_invoke_the_function_only_on_its_own_routes(transformed: dict[str, Any]) -> None:
    """SAM's permissions leave the stage and path parameters open (``*``): nothing else may be."""
    [api_name] = [name for name, res in transformed["Resources"].items() if res["Type"] == "AWS::ApiGatewayV2::Api"]
    paths = transformed["Resources"][api_name]["Properties"]["Body"]["paths"]
    routes = {f"/GET{re.sub(r'{[^}]+}', '*', path)}" for path in paths}
    permissions = [
        res["Properties"] for res in transformed["Resources"].values() if res["Type"] == "AWS::Lambda::Permission"
    ]
    assert len(permissions) == len(routes)
    seen = set()
    for permission in permissions:
        assert permission["Action"] == "lambda:InvokeFunction"
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["FunctionName"] == {"Ref": FUNCTION}
        template, variables = permission["SourceArn"]["Fn::Sub"]
        assert variables == {"__ApiId__": {"Ref": api_name}, "__Stage__": "*"}
        prefix = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/${__Stage__}"
        assert template.startswith(prefix)
        route = template.removeprefix(prefix)
        assert route in routes
        seen.add(route)
    assert seen == routes


# The review's own checks, on code and statements made to fail them


SAMPLE = """
import boto3
from botocore.config import Config
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import get_secret as read_secret


class Sender:
    def __init__(self, session):
        self._queue = session.client(service_name="sqs", config=Config())
        self._table = boto3.client("dynamodb")

    def send(self, password):
        self._queue.send_message_batch(QueueUrl="q", Entries=[])
        self._table.query(TableName="t")
        password.get_secret_value()  # a pydantic SecretStr: no Secrets Manager client is made
        self._queue.get(1)
        read_secret("name")
        parameters.get_parameter("/name")
"""


def test_the_scan_finds_client_operations_and_powertools_helpers(tmp_path: Path) -> None:
    (tmp_path / "sample.py").write_text(SAMPLE)
    assert {(call.service, call.operation, call.where) for call in aws_calls([tmp_path], tmp_path)} == {
        ("sqs", "send_message_batch", "sample.py:14"),
        ("dynamodb", "query", "sample.py:15"),
        ("secretsmanager", "get_secret_value", "sample.py:18"),
        ("ssm", "get_parameter", "sample.py:19"),
    }


@pytest.mark.parametrize(
    "sample",
    [
        "import boto3\nboto3.client(name).list_queues()\n",
        'import boto3\nboto3.resource("dynamodb").Table("t").put_item(Item={})\n',
        'from aws_lambda_powertools.utilities.parameters import get_app_config\nget_app_config("n", "e")\n',
    ],
    ids=["unknown-service", "resource-api", "unlisted-helper"],
)
def test_the_scan_refuses_what_it_cannot_map(tmp_path: Path, sample: str) -> None:
    (tmp_path / "sample.py").write_text(sample)
    with pytest.raises(AssertionError):
        aws_calls([tmp_path], tmp_path)


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "*", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}},
        {"Effect": "Allow", "Action": "sqs:*", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}},
        {"Effect": "Allow", "Action": ["dynamodb:Get*"], "Resource": {"Fn::GetAtt": ["Table", "Arn"]}},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:123456789012:*"},
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"},
        },
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": {"Ref": "Queue"}},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "NotResource": {"Fn::GetAtt": ["Queue", "Arn"]}},
    ],
    ids=["all", "service", "prefix", "resource", "arn-tail", "sub-tail", "not-action", "not-resource"],
)
def test_the_wildcard_check_catches(statement: dict[str, Any]) -> None:
    assert wildcards("Role", statement, {})


def test_the_wildcard_check_passes_named_grants_and_listed_exceptions() -> None:
    named = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}}
    assert wildcards("Role", named, {}) == []
    xray = {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"}
    assert wildcards("Role", xray, {("Role", "xray:PutTraceSegments"): "no resource-level permissions"}) == []
    assert wildcards("Other", xray, {("Role", "xray:PutTraceSegments"): "no resource-level permissions"})


def test_grants_are_tied_to_the_logical_ids_they_name() -> None:
    role = {
        "Policies": [
            {
                "PolicyDocument": {
                    "Statement": [
                        {"Effect": "Allow", "Action": ["a:One", "a:Two"], "Resource": {"Fn::GetAtt": ["Table", "Arn"]}},
                        {
                            "Effect": "Allow",
                            "Action": "b:Read",
                            "Resource": {"Fn::Sub": ["${x}", {"x": {"Ref": "Secret"}}]},
                        },
                        {"Effect": "Allow", "Action": "c:Put", "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}},
                        {"Effect": "Allow", "Action": "d:Any", "Resource": "*"},
                        {"Effect": "Deny", "Action": "e:All", "Resource": "*"},
                    ]
                }
            }
        ]
    }
    assert grants(role) == {
        ("a:One", "Table"),
        ("a:Two", "Table"),
        ("b:Read", "Secret"),
        ("c:Put", "Bucket"),
        ("d:Any", '"*"'),
    }
