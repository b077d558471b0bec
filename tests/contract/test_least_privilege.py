"""Least privilege: every IAM grant in the transformed template is needed, and none is a wildcard.

Each function role is held to what its code calls. The AWS operations are read from the source (boto3
client methods of the services it makes clients for, and Powertools' parameter helpers), each mapped
to the IAM action that authorises it and to the resource the code reaches it through: the function's
setting for that service, as the template fills it in. Each state machine role is held to what its
definition (the ASL file the template deploys) runs: the functions its tasks invoke, and for a
Distributed Map the executions of its items. What the platform needs on the code's behalf (Lambda's
on-failure destination, the schedules' roles, log delivery) is listed below with its reason, and so is
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
from samtranslator.yaml_helper import yaml_parse

from .conftest import ROOT, TEMPLATE

LAYER = ROOT / "layers/dcs_restores/dcs_restores"
COMMON = ROOT / "functions/common"
# Each function's package (its code is the package, the layer and what it imports of common; see ``function_sources``).
FUNCTIONS = {
    "RestoreWatchFunction": "restore_watch",
    "DiscoverInstancesFunction": "discover_instances",
    "SweepSummaryFunction": "sweep_summary",
}
FUNCTION = "RestoreWatchFunction"
FUNCTION_ALIAS = "RestoreWatchFunctionAliaslive"  # what the schedule, the API and the workflows invoke
FUNCTION_ROLE = "RestoreWatchFunctionRole"
STATE_MACHINES = ("FleetSweepStateMachine", "WaitForRestoreStateMachine")
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# Log delivery to CloudWatch Logs, which a state machine's role needs for its Logging (AWS documents these
# actions on Resource "*": they have no resource-level permissions).
LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)

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
    "SecretsProvider": ("secretsmanager", "get_secret_value"),  # what its get() calls
    "get_parameter": ("ssm", "get_parameter"),
    "get_parameters": ("ssm", "get_parameters_by_path"),
}
# Powertools' parameter functions that call no AWS service.
POWERTOOLS_LOCAL = frozenset({"clear_caches"})  # drops the providers and their cached values
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
    "DiscoverInstancesFunctionRole": {},
    "SweepSummaryFunctionRole": {},
    "RestoreWatchFunctionWatchRole": {
        ("lambda:InvokeFunction", FUNCTION_ALIAS): "EventBridge Scheduler invokes the function's alias with this role",
        ("sqs:SendMessage", "InvocationFailuresQueue"): "the schedule's dead-letter queue",
    },
    "FleetSweepStateMachineSweepRole": {
        ("states:StartExecution", "FleetSweepStateMachine"): "EventBridge Scheduler starts the sweep with this role",
        ("sqs:SendMessage", "InvocationFailuresQueue"): "the schedule's dead-letter queue",
    },
    **{
        f"{machine}Role": {
            (action, '"*"'): "the state machine's Logging: delivery to its log group" for action in LOG_DELIVERY
        }
        for machine in STATE_MACHINES
    },
}
SCHEDULE_ROLES = ("RestoreWatchFunctionWatchRole", "FleetSweepStateMachineSweepRole")
# AWS-managed policies a role may carry. AWS maintains them and their statements use Resource "*": Lambda
# creates the log group on first write, and X-Ray has no resource-level permissions. These two are
# accepted as they are; any other managed policy fails the review.
_XRAY = {
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
        "Tracing: xray:PutTraceSegments, xray:PutTelemetryRecords and the sampling reads"
    ),
}
MANAGED_POLICIES: dict[str, dict[str, str]] = {
    **{
        f"{function}Role": {
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
                "logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents: the function's logs"
            ),
            **_XRAY,
        }
        for function in FUNCTIONS
    },
    **{f"{machine}Role": _XRAY for machine in STATE_MACHINES},
}
# Inline statements allowed a wildcard in Action or Resource: (role, action) -> why.
WILDCARD_EXCEPTIONS: dict[tuple[str, str], str] = {
    **{
        (f"{machine}Role", action): "log delivery actions have no resource-level permissions"
        for machine in STATE_MACHINES
        for action in LOG_DELIVERY
    },
    **{
        ("FleetSweepStateMachineRole", action): (
            "the Distributed Map's item executions, named at run time under the state machine's own name"
        )
        for action in ("states:DescribeExecution", "states:StopExecution")
    },
}
ASSUMED_BY = {
    **{f"{function}Role": "lambda.amazonaws.com" for function in FUNCTIONS},
    **{f"{machine}Role": "states.amazonaws.com" for machine in STATE_MACHINES},
    **dict.fromkeys(SCHEDULE_ROLES, "scheduler.amazonaws.com"),
}


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
        path: ast.parse(path.read_text(), str(path))
        for source in sources
        for path in ([source] if source.is_file() else sorted(source.rglob("*.py")))
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
            if helper is not None and helper not in POWERTOOLS_LOCAL:
                assert helper in POWERTOOLS_HELPERS, f"{where}: Powertools' {helper}: add it to POWERTOOLS_HELPERS"
                calls.add(AwsCall(*POWERTOOLS_HELPERS[helper], where))
            elif isinstance(node.func, ast.Attribute) and node.func.attr in by_operation:
                candidates = by_operation[node.func.attr]
                assert len(candidates) == 1, f"{where}: {node.func.attr} could be any of {sorted(candidates)}"
                calls.add(AwsCall(next(iter(candidates)), node.func.attr, where))
    return calls


def function_sources(package: str) -> list[Path]:
    """A function's code: its package, the layer, and the modules of ``common`` it imports (and those import).

    Not the whole of ``common``: the summary ships it, and loads only the sweep's contract.
    """
    root = ROOT / "functions" / package
    pending = sorted(root.rglob("*.py"))
    shared: set[Path] = set()
    while pending:
        for module in _common_modules(pending.pop()):
            file = COMMON / f"{module}.py"
            if file not in shared:
                shared.add(file)
                pending.append(file)
    return sorted({root, LAYER, *shared}, key=str)


def _common_modules(path: Path) -> set[str]:
    """The modules of ``common`` that ``path`` imports: ``from common.settings import``, ``from common import
    observability``, and, inside ``common``, ``from .settings import``."""
    inside = path.parent == COMMON
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        name = node.module or ""
        if (node.level == 0 and name == COMMON.name) or (inside and node.level == 1 and not name):
            modules.update(alias.name for alias in node.names)
        elif node.level == 0 and name.startswith(f"{COMMON.name}."):
            modules.add(name.split(".")[1])
        elif inside and node.level == 1:
            modules.add(name.split(".")[0])
    return modules


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
    """Each role's properties, its ``Policies`` with the stand-alone policies (``AWS::IAM::Policy``) attached to it."""
    found = {
        name: dict(res["Properties"])
        for name, res in transformed["Resources"].items()
        if res["Type"] == "AWS::IAM::Role"
    }
    for res in transformed["Resources"].values():
        if res["Type"] == "AWS::IAM::Policy":
            for role in res["Properties"]["Roles"]:
                properties = found[role["Ref"]]
                properties["Policies"] = [*properties.get("Policies", []), res["Properties"]]
    return found


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


@pytest.fixture(scope="module", params=sorted(FUNCTIONS))
def function(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def calls(function: str) -> set[AwsCall]:
    return aws_calls(function_sources(FUNCTIONS[function]))


def test_the_function_runs_as_the_reviewed_role(transformed: dict[str, Any], function: str) -> None:
    properties = transformed["Resources"][function]["Properties"]
    assert properties["Role"] == {"Fn::GetAtt": [f"{function}Role", "Arn"]}


def test_every_role_is_reviewed(transformed: dict[str, Any]) -> None:
    assert set(roles(transformed)) == set(PLATFORM_GRANTS) == set(ASSUMED_BY)
    functions = {name for name, res in transformed["Resources"].items() if res["Type"] == "AWS::Lambda::Function"}
    machines = {
        name for name, res in transformed["Resources"].items() if res["Type"] == "AWS::StepFunctions::StateMachine"
    }
    assert (functions, machines) == (set(FUNCTIONS), set(STATE_MACHINES))


def test_every_operation_the_code_calls_has_an_iam_action(calls: set[AwsCall]) -> None:
    unmapped = sorted(
        f"{call.where}: {call.service}.{call.operation}"
        for call in calls
        if (call.service, call.operation) not in IAM_ACTIONS
    )
    assert not unmapped, f"add the IAM action for each to IAM_ACTIONS: {unmapped}"
    assert {call.service for call in calls} <= set(SERVICE_SETTINGS)


def test_the_function_role_grants_exactly_what_the_code_and_the_platform_need(
    transformed: dict[str, Any], function: str, calls: set[AwsCall]
) -> None:
    environment = transformed["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    needed: dict[tuple[str, str], str] = {}
    for call in calls:
        [resource] = referenced(environment[SERVICE_SETTINGS[call.service]])
        needed[(IAM_ACTIONS[(call.service, call.operation)], resource)] = (
            f"{call.service}.{call.operation} at {call.where}"
        )
    role = f"{function}Role"
    needed |= PLATFORM_GRANTS[role]
    granted = grants(roles(transformed)[role])
    assert not granted - needed.keys(), f"granted, but nothing needs it: {sorted(granted - needed.keys())}"
    missing = {grant: needed[grant] for grant in needed.keys() - granted}
    assert not missing, f"needed, but not granted: {missing}"


def test_the_discovery_reads_the_secret_and_nothing_else(transformed: dict[str, Any]) -> None:
    """Its own role: no queue, no table (it shares common's DCS connection, not the watch's forwarder)."""
    assert grants(roles(transformed)["DiscoverInstancesFunctionRole"]) == {
        ("secretsmanager:GetSecretValue", "DcsCredentialsSecretArn")
    }
    assert grants(roles(transformed)["SweepSummaryFunctionRole"]) == set()


@pytest.mark.parametrize("role", SCHEDULE_ROLES)
def test_the_schedule_roles_grant_only_what_their_service_needs(transformed: dict[str, Any], role: str) -> None:
    assert grants(roles(transformed)[role]) == set(PLATFORM_GRANTS[role])


# What a state machine runs


def definition_files() -> dict[str, Path]:
    """Each state machine's ASL file, as the template names it (the transformed template has it uploaded)."""
    template = yaml_parse(TEMPLATE.read_text())
    return {name: ROOT / template["Resources"][name]["Properties"]["DefinitionUri"] for name in STATE_MACHINES}


def states_of(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every state, those of Map item processors and Parallel branches included."""
    for state in definition["States"].values():
        yield state
        for inner in [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]:
            if inner:
                yield from states_of(inner)


def definition_grants(
    machine: str, definition: dict[str, Any], substitutions: dict[str, Any]
) -> dict[tuple[str, str], str]:
    """(IAM action, logical ID) -> why, for what the definition runs; an integration not reviewed here fails."""
    needed: dict[tuple[str, str], str] = {}
    for state in states_of(definition):
        if state["Type"] == "Task":
            assert state["Resource"] == LAMBDA_INVOKE, f"review the IAM the integration {state['Resource']} needs"
            placeholder = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"])
            assert placeholder, "a task's function is named by a substitution"
            [function] = referenced(substitutions[placeholder[1]])
            needed[("lambda:InvokeFunction", function)] = f"a task invokes {function}"
        if (
            state["Type"] == "Map"
            and state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        ):
            for action in ("states:StartExecution", "states:DescribeExecution", "states:StopExecution"):
                needed[(action, machine)] = "a Distributed Map runs its items as executions of its own state machine"
    return needed


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_each_state_machine_role_grants_exactly_what_its_definition_runs(
    transformed: dict[str, Any], machine: str
) -> None:
    properties = transformed["Resources"][machine]["Properties"]
    role = f"{machine}Role"
    assert properties["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    definition = json.loads(definition_files()[machine].read_text())
    needed = definition_grants(machine, definition, properties["DefinitionSubstitutions"]) | PLATFORM_GRANTS[role]
    granted = grants(roles(transformed)[role])
    assert not granted - needed.keys(), f"granted, but nothing needs it: {sorted(granted - needed.keys())}"
    missing = {grant: needed[grant] for grant in needed.keys() - granted}
    assert not missing, f"needed, but not granted: {missing}"


def test_the_distributed_map_starts_only_its_own_state_machine_and_supervises_only_its_executions(
    transformed: dict[str, Any],
) -> None:
    granted = [
        statement
        for statement in statements(roles(transformed)["FleetSweepStateMachineRole"])
        if any(action.startswith("states:") for action in as_list(statement["Action"]))
    ]
    by_action = {action: statement["Resource"] for statement in granted for action in as_list(statement["Action"])}
    assert by_action["states:StartExecution"] == {"Ref": "FleetSweepStateMachine"}
    executions = {
        "Fn::Sub": [
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${Name}/*",
            {"Name": {"Fn::GetAtt": ["FleetSweepStateMachine", "Name"]}},
        ]
    }
    assert by_action["states:DescribeExecution"] == by_action["states:StopExecution"] == executions
    assert set(by_action) == {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"}


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
    for name, role in roles(transformed).items():
        [trust] = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Effect"] == "Allow"
        assert as_list(trust["Action"]) == ["sts:AssumeRole"]
        assert trust["Principal"] == {"Service": [ASSUMED_BY[name]]}, name


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
        assert permission["FunctionName"] == {"Ref": FUNCTION_ALIAS}
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
        parameters.clear_caches()  # calls no AWS service
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
