"""template.yaml as CloudFormation receives it: transformed by the SAM translator itself, offline."""

from __future__ import annotations

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


SNAPSTART_CONDITION = "SnapStartOn"


def with_snapstart(template: dict[str, Any], on: bool) -> dict[str, Any]:
    """The template as CloudFormation deploys it with the ``SnapStart`` parameter set: its condition decided."""
    assert template["Conditions"][SNAPSTART_CONDITION] == {"Fn::Equals": [{"Ref": "SnapStart"}, "true"]}

    def decide(node: Any) -> Any:
        if isinstance(node, list):
            return [decide(item) for item in node]
        if not isinstance(node, dict):
            return node
        if list(node) == ["Fn::If"] and node["Fn::If"][0] == SNAPSTART_CONDITION:
            return decide(node["Fn::If"][1 if on else 2])
        return {key: decide(value) for key, value in node.items()}

    decided: dict[str, Any] = decide(template)
    return decided


@pytest.fixture(scope="session", params=[False, True], ids=["snapstart-off", "snapstart-on"])
def snapstart(request: pytest.FixtureRequest) -> bool:
    """Every template check runs with SnapStart off (the default) and on."""
    on: bool = request.param
    return on


def transform_template(snapstart: bool) -> dict[str, Any]:
    """The template as the SAM translator hands it to CloudFormation, code locations stood in for."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        template = with_snapstart(yaml_parse(TEMPLATE.read_text()), snapstart)
        for resource in template["Resources"].values():
            properties = resource.get("Properties", {})
            for key in ("CodeUri", "ContentUri", "DefinitionUri"):
                if key in properties:
                    properties[key] = f"s3://placeholder-bucket/{key}.zip"
        transformed: dict[str, Any] = transform(template, {"SnapStart": str(snapstart).lower()}, OfflinePolicyLoader())
        return transformed


@pytest.fixture(scope="session")
def transformed(snapstart: bool) -> dict[str, Any]:
    return transform_template(snapstart)
