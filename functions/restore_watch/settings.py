"""The watch function's configuration from the environment, validated once per container."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, field_validator

from common.settings import DcsSettings, blank_is_unset
from dcs_restores import SafeId

from .limits import DEFAULT_MAX_RESPONSE_BYTES, ResponseBytes


class Settings(DcsSettings):
    """The watch function's settings: DCS's, and where failed restores go."""

    dcs_instance_id: Annotated[SafeId | None, BeforeValidator(blank_is_unset)] = None
    failed_restores_queue_url: str
    restore_ledger_table: Annotated[str | None, BeforeValidator(blank_is_unset)] = None
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
