"""Configuration from the environment, validated once per container."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator

from dcs_restores import DEFAULT_MAX_PAGE_BYTES, SafeId, first_error

from .errors import ConfigurationError
from .shaping import DEFAULT_MAX_RESPONSE_BYTES, ResponseBytes

DEFAULT_LOOKBACK = timedelta(hours=6)  # a schedule's window: the longest restore plus the schedule's rate
MAX_LOOKBACK = timedelta(days=366)  # MAX_WINDOW_DAYS may not allow as much; past it, dates overflow


def _blank_is_unset(value: Any) -> Any:
    return None if value == "" else value


class DcsSettings(BaseModel):
    """What every function that calls DCS reads: where, for which projects, with which credentials."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    dcs_endpoint: str
    dcs_project_id: SafeId
    allowed_project_ids: frozenset[SafeId] = frozenset()  # besides dcs_project_id; comma-separated in the env
    dcs_credentials_secret: Annotated[str | None, BeforeValidator(_blank_is_unset)] = None
    dcs_ak: SecretStr | None = None
    dcs_sk: SecretStr | None = None
    max_window_days: Annotated[int, Field(ge=1, le=366)] = 31
    max_page_bytes: Annotated[int, Field(ge=65_536, le=64 * 1024 * 1024)] = DEFAULT_MAX_PAGE_BYTES
    schedule_lookback: Annotated[timedelta, Field(gt=timedelta(0), le=MAX_LOOKBACK)] = DEFAULT_LOOKBACK

    @field_validator("allowed_project_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value

    def local_key_pair(self) -> tuple[str, str]:
        """``DCS_AK`` and ``DCS_SK``, for a function configured without a secret (local use)."""
        if not self.dcs_ak or not self.dcs_sk:  # unset or empty
            raise ConfigurationError("DCS_CREDENTIALS_SECRET", "is required (or DCS_AK and DCS_SK for local use)")
        return self.dcs_ak.get_secret_value(), self.dcs_sk.get_secret_value()

    def may_read(self, project_id: str) -> bool:
        return project_id == self.dcs_project_id or project_id in self.allowed_project_ids

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        fields = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        try:
            settings = cls.model_validate(fields)
        except ValidationError as error:
            field, message = first_error(error.errors(include_url=False), "environment")
            variable, _, item = field.partition(".")  # a list item: ALLOWED_PROJECT_IDS.1 is its second entry
            raise ConfigurationError(
                variable.upper(), f"item {int(item) + 1}: {message}" if item else message
            ) from None
        if not settings.dcs_credentials_secret:
            settings.local_key_pair()  # refused now, not at the first invocation that needs them
        return settings


class Settings(DcsSettings):
    """The watch function's settings: DCS's, and where failed restores go."""

    dcs_instance_id: Annotated[SafeId | None, BeforeValidator(_blank_is_unset)] = None
    failed_restores_queue_url: str
    restore_ledger_table: Annotated[str | None, BeforeValidator(_blank_is_unset)] = None
    ledger_ttl_days: Annotated[int, Field(ge=1, le=3650)] = 90
    max_records: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    max_response_bytes: ResponseBytes = DEFAULT_MAX_RESPONSE_BYTES

    @field_validator("failed_restores_queue_url")
    @classmethod
    def _a_queue_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or len(parts.path.strip("/").split("/")) != 2:
            raise ValueError("must be a queue URL: https://sqs.<region>.amazonaws.com/<account>/<queue>")
        return value
