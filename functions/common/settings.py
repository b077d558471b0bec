"""What every function that calls DCS reads from the environment, validated once per container."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from dcs_restores import DEFAULT_MAX_PAGE_BYTES, Credentials, SafeId, first_error, region_endpoint

from .errors import ConfigurationError

DEFAULT_LOOKBACK = timedelta(hours=6)  # a schedule's window: the longest restore plus the schedule's rate
MAX_LOOKBACK = timedelta(days=366)  # MAX_WINDOW_DAYS may not allow as much; past it, dates overflow


# The official SDK's names, read for what ours leave unset (a developer's shell already holds them). The key
# pair and its token are one set: taken from the SDK's names only when neither DCS_AK nor DCS_SK is given.
SDK_FALLBACKS = (
    ("dcs_project_id", "HUAWEICLOUD_SDK_PROJECT_ID"),
    ("dcs_ak", "HUAWEICLOUD_SDK_AK"),
    ("dcs_sk", "HUAWEICLOUD_SDK_SK"),
    ("dcs_security_token", "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
)
_KEY_PAIR = ("dcs_ak", "dcs_sk")

_CREDENTIALS = (*_KEY_PAIR, "dcs_security_token")


# What tells a container of `sam local` from a deployed function. sam local sets AWS_SAM_LOCAL=true and
# AWS_LAMBDA_LOG_STREAM_NAME=$LATEST in every container it runs (samcli/local/lambdafn/env_vars.py; the runtime
# interface emulator gives the same stream name when none is set). AWS_SAM_LOCAL is not reserved: a deployed
# function's configuration could set it. AWS_LAMBDA_LOG_STREAM_NAME is: Lambda sets it to date/[version]id
# (e.g. 2024/01/01/[$LATEST]6f1c...), or leaves it unset under SnapStart, never to $LATEST alone.
SAM_LOCAL_LOG_STREAM = "$LATEST"


def plain_http_allowed(environ: Mapping[str, str]) -> bool:
    """Whether DCS may be reached over plain http off loopback: only in a container of ``sam local``.

    ``AWS_SAM_LOCAL`` must be ``true`` as sam local writes it (not ``1``, ``yes`` or ``ON``), and inside
    Lambda's runtime (``AWS_LAMBDA_FUNCTION_NAME`` or ``AWS_EXECUTION_ENV`` set) only with sam local's own
    log stream name: a deployed function with ``AWS_SAM_LOCAL=true`` in its configuration still sends nothing
    in the clear. Outside any Lambda runtime (a developer's shell) ``true`` is taken at its word.
    """
    if environ.get("AWS_SAM_LOCAL") != "true":
        return False
    in_lambda = bool(environ.get("AWS_LAMBDA_FUNCTION_NAME") or environ.get("AWS_EXECUTION_ENV"))
    return not in_lambda or environ.get("AWS_LAMBDA_LOG_STREAM_NAME") == SAM_LOCAL_LOG_STREAM


def blank_is_unset(value: Any) -> Any:
    return None if value == "" else value


def _no_endpoint() -> ConfigurationError:
    return ConfigurationError("DCS_REGION", "is required (e.g. cn-north-4), or DCS_ENDPOINT")


def _known_region(region: str) -> str:
    region_endpoint(region)  # ValueError saying why not
    return region


class DcsSettings(BaseModel):
    """What every function that calls DCS reads: where, for which projects, with which credentials."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    dcs_region: Annotated[str, AfterValidator(_known_region)] | None = None  # e.g. cn-north-4
    dcs_endpoint: str | None = None  # overrides dcs_region: a proxy, a new region, the emulator
    dcs_project_id: SafeId
    allowed_project_ids: frozenset[SafeId] = frozenset()  # besides dcs_project_id; comma-separated in the env
    dcs_credentials_secret: Annotated[str | None, BeforeValidator(blank_is_unset)] = None
    dcs_ak: SecretStr | None = None
    dcs_sk: SecretStr | None = None
    dcs_security_token: SecretStr | None = None  # with DCS_AK and DCS_SK, for temporary credentials
    max_window_days: Annotated[int, Field(ge=1, le=366)] = 31
    max_page_bytes: Annotated[int, Field(ge=65_536, le=64 * 1024 * 1024)] = DEFAULT_MAX_PAGE_BYTES
    schedule_lookback: Annotated[timedelta, Field(gt=timedelta(0), le=MAX_LOOKBACK)] = DEFAULT_LOOKBACK
    # In a container of `sam local` (plain_http_allowed, never the variable as it reads): the emulator is then on
    # the host, reached by name over plain http.
    aws_sam_local: bool = False

    @field_validator("allowed_project_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value

    @property
    def endpoint(self) -> str:
        """``DCS_ENDPOINT`` when given, else the endpoint of ``DCS_REGION``."""
        if self.dcs_endpoint:
            return self.dcs_endpoint
        if self.dcs_region is None:
            raise _no_endpoint()
        return region_endpoint(self.dcs_region)

    def local_credentials(self) -> Credentials:
        """``DCS_AK``, ``DCS_SK`` and ``DCS_SECURITY_TOKEN``, for a function configured without a secret (local use)."""
        if not self.dcs_ak or not self.dcs_sk:  # unset or empty
            raise ConfigurationError("DCS_CREDENTIALS_SECRET", "is required (or DCS_AK and DCS_SK for local use)")
        token = self.dcs_security_token.get_secret_value() if self.dcs_security_token else None
        return Credentials(self.dcs_ak.get_secret_value(), self.dcs_sk.get_secret_value(), token or None)

    def may_read(self, project_id: str) -> bool:
        return project_id == self.dcs_project_id or project_id in self.allowed_project_ids

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """Every field from its variable (``DCS_REGION`` for ``dcs_region``); an empty variable is unset.

        The template declares every variable the code reads, empty where it is optional, so that
        ``sam local --env-vars`` can set any of them: empty means the default, as if it were not there.
        """
        fields, read_from = _read_environment(cls.model_fields, environ)
        try:
            settings = cls.model_validate({**fields, "aws_sam_local": plain_http_allowed(environ)})
        except ValidationError as error:
            field, message = first_error(error.errors(include_url=False), "environment")
            name, _, item = field.partition(".")  # a list item: ALLOWED_PROJECT_IDS.1 is its second entry
            raise ConfigurationError(
                read_from.get(name, name.upper()), f"item {int(item) + 1}: {message}" if item else message
            ) from None
        if not settings.dcs_endpoint and not settings.dcs_region:  # refused now, not at the first invocation
            raise _no_endpoint()
        if not settings.dcs_credentials_secret:
            settings.local_credentials()  # likewise
        return settings


def _read_environment(names: Iterable[str], environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The values of ``names`` (field names) and the variable each was read from: ours, else the SDK's."""
    wanted = set(names)
    values = {name: environ[name.upper()] for name in wanted if environ.get(name.upper())}
    read_from = {name: name.upper() for name in values}
    pair_given = any(name in values for name in _KEY_PAIR)
    for name, variable in SDK_FALLBACKS:
        if (
            name in wanted
            and name not in values
            and not (pair_given and name in _CREDENTIALS)
            and environ.get(variable)
        ):
            values[name], read_from[name] = environ[variable], variable
    return values, read_from
