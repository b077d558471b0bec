"""Where the functions find DCS and their credentials: a region or an endpoint, our names or the official SDK's."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest

from common.connection import connect, load_credentials
from common.errors import ConfigurationError
from common.settings import plain_http_allowed
from common.timing import Timing
from dcs_restores import Credentials, DcsUnavailableError, Deadline
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from devkit.invoke import LocalContext
from devkit.seed import generate_records
from discover_instances.discovery import DiscoverySettings
from restore_watch.app import lambda_handler
from restore_watch.settings import Settings

from ..support import AwsResources, fresh_container, load_event, use_function_environment, window_query

BASE = {
    "DCS_PROJECT_ID": "proj",
    "DCS_CREDENTIALS_SECRET": "secret",
    "FAILED_RESTORES_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
}


def refused(environ: dict[str, str], settings: type[Settings | DiscoverySettings] = Settings) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as raised:
        settings.from_env(environ)
    return raised.value


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """The host names the code asks the resolver for, each refused: nothing leaves this machine."""
    asked: list[tuple[Any, Any]] = []

    def refuse(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append((host, port))
        raise socket.gaierror(socket.EAI_NONAME, "not resolved in tests")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return asked


def test_a_region_alone_is_dcs_of_that_region(resolved: list[tuple[Any, Any]]) -> None:
    # Given DCS_REGION and no DCS_ENDPOINT
    environ = {**BASE, "DCS_REGION": "cn-north-4", "DCS_ENDPOINT": ""}
    settings = Settings.from_env({**environ, "DCS_CREDENTIALS_SECRET": "", "DCS_AK": "ak", "DCS_SK": "sk"})
    assert settings.endpoint == "https://dcs.cn-north-4.myhuaweicloud.com"
    # When the function's own client reads a window, Then it goes to that region's host over TLS
    with connect(settings, Timing()) as client, pytest.raises(DcsUnavailableError):
        client.list_restores(window_query(), Deadline.after(1))
    assert resolved[0] == ("dcs.cn-north-4.myhuaweicloud.com", 443)


def test_the_endpoint_overrides_the_region_and_the_discovery_reads_both_the_same_way() -> None:
    for settings in (Settings, DiscoverySettings):
        environ = {**BASE, "DCS_REGION": "cn-north-4", "DCS_ENDPOINT": "https://dcs.example.com"}
        assert settings.from_env(environ).endpoint == "https://dcs.example.com"
        assert settings.from_env({**BASE, "DCS_REGION": "ap-southeast-1"}).endpoint == (
            "https://dcs.ap-southeast-1.myhuaweicloud.com"
        )


@pytest.mark.parametrize(
    ("environ", "variable", "reason"),
    [
        ({}, "DCS_REGION", "is required (e.g. cn-north-4), or DCS_ENDPOINT"),
        ({"DCS_REGION": "", "DCS_ENDPOINT": ""}, "DCS_REGION", "is required (e.g. cn-north-4), or DCS_ENDPOINT"),
        ({"DCS_REGION": "Beijing 4"}, "DCS_REGION", "must be a Huawei Cloud region name such as cn-north-4"),
        ({"DCS_REGION": "cn-north-4/.."}, "DCS_REGION", "must be a Huawei Cloud region name"),
        ({"DCS_REGION": "cn-nrth-4"}, "DCS_REGION", "'cn-nrth-4' is not a region this version knows DCS in"),
    ],
)
def test_no_region_or_a_bad_one_is_named(environ: dict[str, str], variable: str, reason: str) -> None:
    error = refused({**BASE, **environ})
    assert error.variable == variable
    assert reason in str(error)


def test_an_endpoint_in_plain_http_off_loopback_is_refused_unless_sam_local_runs_the_function() -> None:
    environ = {**BASE, "DCS_CREDENTIALS_SECRET": "", "DCS_AK": "ak", "DCS_SK": "sk"}
    environ["DCS_ENDPOINT"] = "http://host.docker.internal:8443"  # the emulator on the host of a container
    # A deployed function (or a shell) may not send credentials in the clear
    with pytest.raises(ConfigurationError, match="https") as raised:
        connect(Settings.from_env(environ), Timing())
    assert raised.value.variable == "DCS_ENDPOINT"
    # `sam local` sets AWS_SAM_LOCAL=true in its containers: then the emulator is reached by name
    connect(Settings.from_env({**environ, "AWS_SAM_LOCAL": "true"}), Timing()).close()
    # And only http is let through, not any other kind of endpoint
    with pytest.raises(ConfigurationError, match="scheme and host only"):
        connect(Settings.from_env({**environ, "AWS_SAM_LOCAL": "true", "DCS_ENDPOINT": "http://h/v2"}), Timing())


# What a container holds, of what the rule reads: sam local's (samcli/local/lambdafn/env_vars.py, and the image's
# AWS_EXECUTION_ENV), and a deployed function's (Lambda's reserved variables; no log stream under SnapStart).
SAM_LOCAL = {
    "AWS_SAM_LOCAL": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "RestoreWatchFunction",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST",
}
DEPLOYED = {
    "AWS_LAMBDA_FUNCTION_NAME": "dcs-restore-watch",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]6f1c0e1b2a3d4c5e8f9a0b1c2d3e4f5a",
}


@pytest.mark.parametrize(
    ("environ", "allowed"),
    [
        ({}, False),
        (SAM_LOCAL, True),  # a container of sam local
        ({"AWS_SAM_LOCAL": "true"}, True),  # a developer's shell, outside any Lambda runtime
        # Only "true", as sam local writes it
        *(({**SAM_LOCAL, "AWS_SAM_LOCAL": value}, False) for value in ("1", "yes", "ON", "True", "TRUE", " true", "")),
        ({"AWS_SAM_LOCAL": "1"}, False),
        # Inside Lambda's runtime, only with the log stream name sam local gives
        (DEPLOYED, False),
        ({**DEPLOYED, "AWS_SAM_LOCAL": "true"}, False),
        ({**DEPLOYED, "AWS_SAM_LOCAL": "true", "AWS_LAMBDA_LOG_STREAM_NAME": ""}, False),
        ({"AWS_SAM_LOCAL": "true", "AWS_LAMBDA_FUNCTION_NAME": "dcs-restore-watch"}, False),  # SnapStart: no stream
        ({"AWS_SAM_LOCAL": "true", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"}, False),
        ({"AWS_SAM_LOCAL": "true", "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST", "AWS_EXECUTION_ENV": "x"}, True),
        ({**SAM_LOCAL, "AWS_LAMBDA_LOG_STREAM_NAME": "[$LATEST]"}, False),
    ],
)
def test_plain_http_off_loopback_is_allowed_only_in_a_container_of_sam_local(
    environ: dict[str, str], allowed: bool
) -> None:
    assert plain_http_allowed(environ) is allowed


@pytest.mark.parametrize(
    "platform",
    [{**DEPLOYED, "AWS_SAM_LOCAL": "true"}, {**SAM_LOCAL, "AWS_SAM_LOCAL": "1"}, {**SAM_LOCAL, "AWS_SAM_LOCAL": "ON"}],
)
def test_a_deployed_function_or_a_loose_marker_sends_no_credentials_in_the_clear(platform: dict[str, str]) -> None:
    # Given the emulator's address on a container's host, and credentials
    environ = {**BASE, "DCS_CREDENTIALS_SECRET": "", "DCS_AK": "ak", "DCS_SK": "sk"}
    environ["DCS_ENDPOINT"] = "http://host.docker.internal:8443"
    # When the function builds its DCS client where sam local did not start it, Then plain http is refused by name
    with pytest.raises(ConfigurationError, match="must use https") as raised:
        connect(Settings.from_env({**environ, **platform}), Timing())
    assert raised.value.variable == "DCS_ENDPOINT"
    # While in sam local's own container it is allowed
    connect(Settings.from_env({**environ, **SAM_LOCAL}), Timing()).close()


def test_a_security_token_never_goes_over_plain_http_off_loopback_even_under_sam_local() -> None:
    environ = {**BASE, "DCS_CREDENTIALS_SECRET": "", "DCS_AK": "ak", "DCS_SK": "sk"}
    environ |= {"DCS_SECURITY_TOKEN": "sts-token-7f3a", "DCS_ENDPOINT": "http://host.docker.internal:8443"}
    with pytest.raises(ConfigurationError, match="X-Security-Token never goes over plain http") as raised:
        connect(Settings.from_env({**environ, **SAM_LOCAL}), Timing())
    assert raised.value.variable == "DCS_ENDPOINT"
    assert "sts-token-7f3a" not in str(raised.value)
    # Over https, and to the emulator on loopback, the token goes as the credentials want it
    connect(Settings.from_env({**environ, **SAM_LOCAL, "DCS_ENDPOINT": "https://dcs.example.com"}), Timing()).close()
    connect(Settings.from_env({**environ, "DCS_ENDPOINT": "http://127.0.0.1:8443"}), Timing()).close()


def test_empty_variables_are_unset_as_the_template_declares_them() -> None:
    environ = {**BASE, "DCS_REGION": "cn-north-4"}
    blanks = dict.fromkeys(("LEDGER_TTL_DAYS", "MAX_PAGE_BYTES", "SCHEDULE_LOOKBACK", "DCS_INSTANCE_ID"), "")
    assert Settings.from_env({**environ, **blanks}) == Settings.from_env(environ)
    assert Settings.from_env({**environ, **blanks}).ledger_ttl_days == 90


SDK = {
    "HUAWEICLOUD_SDK_AK": "sdk-ak",
    "HUAWEICLOUD_SDK_SK": "sdk-sk",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN": "sdk-token",
    "HUAWEICLOUD_SDK_PROJECT_ID": "sdk-project",
}
LOCAL = {"DCS_REGION": "cn-north-4", "FAILED_RESTORES_QUEUE_URL": BASE["FAILED_RESTORES_QUEUE_URL"]}


def test_the_official_sdks_names_stand_in_for_ours() -> None:
    settings = Settings.from_env({**LOCAL, **SDK})
    assert settings.dcs_project_id == "sdk-project"
    assert load_credentials(settings) == Credentials("sdk-ak", "sdk-sk", "sdk-token")


def test_our_names_come_first_and_a_key_pair_is_never_mixed() -> None:
    ours = {"DCS_PROJECT_ID": "proj", "DCS_AK": "ak", "DCS_SK": "sk"}
    settings = Settings.from_env({**LOCAL, **SDK, **ours})
    assert settings.dcs_project_id == "proj"
    assert load_credentials(settings) == Credentials("ak", "sk")  # not the SDK's token with our pair
    # Half a pair of ours is not completed from the SDK's: it is refused as incomplete
    error = refused({**LOCAL, **SDK, "DCS_AK": "ak"})
    assert error.variable == "DCS_CREDENTIALS_SECRET"
    # And our token goes with our pair
    with_token = Settings.from_env({**LOCAL, **SDK, **ours, "DCS_SECURITY_TOKEN": "tok"})
    assert load_credentials(with_token) == Credentials("ak", "sk", "tok")


def test_a_bad_value_is_named_by_the_variable_it_was_read_from() -> None:
    error = refused({**LOCAL, **SDK, "HUAWEICLOUD_SDK_PROJECT_ID": "../other"})
    assert error.variable == "HUAWEICLOUD_SDK_PROJECT_ID"
    assert refused({**LOCAL, **SDK, "DCS_PROJECT_ID": "../other"}).variable == "DCS_PROJECT_ID"


def test_a_function_run_with_the_sdks_names_signs_with_its_temporary_credentials(
    monkeypatch: pytest.MonkeyPatch, aws: AwsResources
) -> None:
    # Given DCS that wants a security token, and only the official SDK's names for the credentials and project
    with Emulator(generate_records(12), security_token="sdk-token") as url:
        use_function_environment(monkeypatch, url, aws.queue_url, aws.table_name, aws.secret_name)
        for name in ("DCS_CREDENTIALS_SECRET", "DCS_PROJECT_ID"):
            monkeypatch.delenv(name)
        sdk = {"HUAWEICLOUD_SDK_AK": DEFAULT_AK, "HUAWEICLOUD_SDK_SK": DEFAULT_SK}
        sdk |= {"HUAWEICLOUD_SDK_SECURITY_TOKEN": "sdk-token", "HUAWEICLOUD_SDK_PROJECT_ID": DEFAULT_PROJECT_ID}
        for name, value in sdk.items():
            monkeypatch.setenv(name, value)
        try:
            # When the function watches a window
            result = lambda_handler(load_event("direct-invoke.json"), LocalContext())
        finally:
            fresh_container()
    # Then DCS accepted the signed token, and the project was the SDK's
    assert (result["instance_id"], result["project_id"]) == (DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID)
    assert result["total"] == 12


@pytest.mark.parametrize("settings", [Settings, DiscoverySettings])
def test_a_schedule_lookback_of_nothing_is_refused_by_name_and_one_second_is_a_window(
    settings: type[Settings | DiscoverySettings],
) -> None:
    environ = {**BASE, "DCS_REGION": "cn-north-4"}
    error = refused({**environ, "SCHEDULE_LOOKBACK": "PT0S"}, settings)
    assert str(error) == "SCHEDULE_LOOKBACK: Input should be greater than 0 seconds"
    assert settings.from_env({**environ, "SCHEDULE_LOOKBACK": "PT1S"}).schedule_lookback == timedelta(seconds=1)
