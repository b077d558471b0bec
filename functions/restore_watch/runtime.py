"""What the handler builds once per container: settings, the DCS client, the forwarder (lazily)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any

from dcs_restores import Credentials, DcsRestoresClient

from .budget import Timing
from .forwarding import FailedRestoreForwarder, aws_error_code, build_forwarder
from .settings import ConfigurationError, SecretUnavailableError, Settings

logger = logging.getLogger(__name__)

# What Secrets Manager answers when the setting (or the role) is wrong; anything else may pass.
SECRET_SETTING_ERRORS = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "InvalidRequestException",
        "InvalidParameterException",
        "DecryptionFailure",
    }
)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.restore_ledger_table is None:
            logger.warning("RESTORE_LEDGER_TABLE is not set: failed restores are deduplicated by FIFO queues only")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Runtime:
        return cls(Settings.from_env(environ))

    @cached_property
    def client(self) -> DcsRestoresClient:
        credentials = load_credentials(self.settings)
        try:
            return DcsRestoresClient(self.settings.dcs_endpoint, credentials, max_records=self.settings.max_records)
        except ValueError as error:
            raise ConfigurationError("DCS_ENDPOINT", str(error)) from None

    @cached_property
    def forwarder(self) -> FailedRestoreForwarder:
        """Built on first use: boto3 is imported only when there is something to forward."""
        return build_forwarder(
            self.settings.failed_restores_queue_url,
            self.settings.restore_ledger_table,
            timedelta(days=self.settings.ledger_ttl_days),
            Timing(),
        )


def load_credentials(settings: Settings) -> Credentials:
    """From the Secrets Manager secret (JSON with ak, sk, optional security_token), else DCS_AK/DCS_SK."""
    if settings.dcs_credentials_secret:
        return _credentials_from_secret(settings.dcs_credentials_secret)
    ak, sk = settings.dcs_ak, settings.dcs_sk
    if ak is None or sk is None:  # Settings.from_env refuses this; kept for settings built by hand
        raise ConfigurationError("DCS_CREDENTIALS_SECRET", "is required (or DCS_AK and DCS_SK for local use)")
    return Credentials(ak.get_secret_value(), sk.get_secret_value())


def _credentials_from_secret(name: str) -> Credentials:
    from aws_lambda_powertools.utilities.parameters import get_secret  # imports boto3: only when a secret is configured
    from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

    try:
        # Read once per runtime, and afresh when a runtime is rebuilt after an auth failure.
        value: Any = get_secret(name, transform="json", force_fetch=True)
    except Exception as error:  # GetSecretValue failed or the value is not JSON: never echo the value
        cause = error.__context__  # Powertools wraps botocore's error without chaining it
        code = aws_error_code(cause) if cause is not None else ""
        if code in SECRET_SETTING_ERRORS or isinstance(error, TransformParameterError):
            raise ConfigurationError("DCS_CREDENTIALS_SECRET", f"could not be read ({code or 'not JSON'})") from None
        reason = code or (type(cause).__name__ if cause is not None else type(error).__name__)
        raise SecretUnavailableError("DCS_CREDENTIALS_SECRET", f"could not be read now ({reason})") from None
    if not isinstance(value, dict) or not isinstance(value.get("ak"), str) or not isinstance(value.get("sk"), str):
        raise ConfigurationError("DCS_CREDENTIALS_SECRET", "must be a JSON object with string fields ak and sk")
    token = value.get("security_token")
    try:
        return Credentials(value["ak"], value["sk"], token if isinstance(token, str) and token else None)
    except ValueError:
        raise ConfigurationError("DCS_CREDENTIALS_SECRET", "ak and sk must not be empty") from None
