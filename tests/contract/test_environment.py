"""env.json (``sam local --env-vars``), the template's function environments and the settings the code reads agree.

The settings models' fields are the source: each is read from its upper-cased name. Besides them, the code
reads a few variables by name (``os.environ.get("...")``), found here in each function's sources.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from common.connection import connect
from common.errors import ConfigurationError
from common.settings import SDK_FALLBACKS, DcsSettings
from common.timing import Timing
from discover_instances.discovery import DiscoverySettings
from restore_watch.settings import Settings

from .conftest import ROOT
from .test_least_privilege import FUNCTIONS, function_sources
from .test_template import raw_template

ENV_JSON = ROOT / "env.json"
SETTINGS: dict[str, type[BaseModel] | None] = {
    "RestoreWatchFunction": Settings,
    "DiscoverInstancesFunction": DiscoverySettings,
    "SweepSummaryFunction": None,
}
# Set by the platform, never declared: AWS_SAM_LOCAL by sam local in every container it runs (unset once deployed);
# the region, the function's name, the runtime and the log stream by Lambda and sam local alike (Lambda reserves
# the names; settings.plain_http_allowed reads the last three to tell sam local's containers from Lambda's).
SET_BY_THE_PLATFORM = {
    "AWS_SAM_LOCAL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_STREAM_NAME",
}
# Read by boto3, not our code: declared for the function that forwards, so that sam local can point it at moto.
READ_BY_BOTO3 = {"RestoreWatchFunction": {"AWS_ENDPOINT_URL"}}
READ_BY_POWERTOOLS = ("POWERTOOLS_",)
# What sam local sets in each container besides the function's variables, of what the settings read
SAM_LOCAL_CONTAINER = {"AWS_SAM_LOCAL": "true", "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST"}


def env_json() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = json.loads(ENV_JSON.read_text())
    return loaded


def read_by_name(sources: list[Path]) -> set[str]:
    """Variables the code reads by a literal name: os.environ.get, os.getenv, os.environ[...]."""
    names: set[str] = set()
    for source in sources:
        for path in [source] if source.is_file() else sorted(source.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                key: ast.expr | None = None
                if isinstance(node, ast.Call) and node.args:
                    called = ast.unparse(node.func)
                    if called in ("os.environ.get", "os.getenv", "environ.get"):
                        key = node.args[0]
                elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
                    key = node.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    names.add(key.value)
    return names


def code_reads(function: str) -> set[str]:
    settings = SETTINGS[function]
    fields = {name.upper() for name in settings.model_fields} if settings else set()
    return fields | read_by_name(function_sources(FUNCTIONS[function]))


def declared(transformed: dict[str, Any], function: str) -> set[str]:
    environment = transformed["Resources"][function]["Properties"].get("Environment", {})
    return set(environment.get("Variables", {}))


def own_variables(function: str) -> dict[str, Any]:
    """The function's own variables as the template writes them, without the Globals'."""
    environment = raw_template()["Resources"][function]["Properties"].get("Environment", {})
    variables: dict[str, Any] = environment.get("Variables", {})
    return variables


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_every_variable_the_code_reads_is_declared_in_the_template(transformed: dict[str, Any], function: str) -> None:
    missing = code_reads(function) - SET_BY_THE_PLATFORM - declared(transformed, function)
    assert not missing, f"{function}: read but not declared, so sam local --env-vars cannot set it: {sorted(missing)}"


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_the_template_declares_nothing_the_code_does_not_read(transformed: dict[str, Any], function: str) -> None:
    extra = declared(transformed, function) - code_reads(function) - READ_BY_BOTO3.get(function, set())
    extra = {name for name in extra if not name.startswith(READ_BY_POWERTOOLS)}
    assert not extra, f"{function}: declared, but nothing reads it: {sorted(extra)}"


def test_the_official_sdks_names_are_for_a_developers_shell_only(transformed: dict[str, Any]) -> None:
    for function in SETTINGS:
        assert not {variable for _, variable in SDK_FALLBACKS} & declared(transformed, function)
    assert "AWS_SAM_LOCAL" in {name.upper() for name in DcsSettings.model_fields}


def test_env_json_sets_every_variable_each_function_declares() -> None:
    local = env_json()
    for function in SETTINGS:
        own = own_variables(function)
        if own:
            assert list(local[function]) == list(own), function  # the same names, in the template's order
        else:
            assert function not in local, function
    assert set(local) <= set(SETTINGS)


def test_env_json_is_what_the_functions_accept_when_sam_local_runs_them() -> None:
    local = env_json()
    for function, settings in (("RestoreWatchFunction", Settings), ("DiscoverInstancesFunction", DiscoverySettings)):
        # Given the values sam local passes (empty ones included), in a container it marks as local
        environ = {**local[function], **SAM_LOCAL_CONTAINER, "AWS_LAMBDA_FUNCTION_NAME": function}
        # Then the settings accept them, and the DCS client is built for the emulator on the container's host
        loaded = settings.from_env(environ)
        assert isinstance(loaded, DcsSettings)
        assert loaded.endpoint == "http://host.docker.internal:8443"
        connect(loaded, Timing()).close()
        # And outside sam local the same endpoint is refused: credentials never go in the clear to a remote host
        with pytest.raises(ConfigurationError, match="https") as refused:
            connect(settings.from_env(local[function]), Timing())
        assert refused.value.variable == "DCS_ENDPOINT"
    watch = Settings.from_env({**local["RestoreWatchFunction"], **SAM_LOCAL_CONTAINER})
    assert watch.failed_restores_queue_url.startswith(local["RestoreWatchFunction"]["AWS_ENDPOINT_URL"] + "/")


def test_the_sam_local_page_starts_the_peers_env_json_points_at() -> None:
    page = (ROOT / "docs" / "sam-local.md").read_text()
    assert "dcs-restore-watch emulator --host 0.0.0.0 --port 8443 --aws-port 8444" in page
    assert "sam local invoke RestoreWatchFunction -e events/direct-invoke.json --env-vars env.json" in page
    assert "sam local start-api --env-vars env.json" in page
    local = env_json()["RestoreWatchFunction"]
    assert local["AWS_ENDPOINT_URL"] == "http://host.docker.internal:8444"
