"""template.yaml as CloudFormation receives it: transformed by the SAM translator itself, offline."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def transformed() -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        template = yaml_parse(TEMPLATE.read_text())
        for resource in template["Resources"].values():
            properties = resource.get("Properties", {})
            for key in ("CodeUri", "ContentUri", "DefinitionUri"):
                if key in properties:
                    properties[key] = f"s3://placeholder-bucket/{key}.zip"
        yield transform(template, {}, OfflinePolicyLoader())
