"""A function's connection to DCS: its client, built on first use with credentials read afresh."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from dcs_restores import Credentials, DcsAuthError, DcsError, DcsRestoresClient

from .aws_errors import aws_error_code
from .errors import ConfigurationError, SecretUnavailableError
from .settings import DcsSettings
from .timing import Timing

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


class DcsConnection:
    """A container's DCS client: built on first use, which reads the credentials; dropped when DCS refuses them."""

    def __init__(self, settings: DcsSettings, timing: Timing, *, max_records: int = 10_000) -> None:
        self._settings = settings
        self._timing = timing
        self._max_records = max_records

    @cached_property
    def client(self) -> DcsRestoresClient:
        return connect(self._settings, self._timing, max_records=self._max_records)

    @property
    def connected(self) -> bool:
        return "client" in self.__dict__

    def close(self) -> None:
        """Close the client: the next one reads the secret, and connects, anew."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    @contextmanager
    def calls(self, metrics: Metrics) -> Iterator[DcsRestoresClient]:
        """The client, for calls whose DCS errors are counted by kind (``DcsErrors<Kind>``). When DCS refuses
        the credentials the client is closed, so the next call reads the secret afresh (it may have been rotated)."""
        client = self.client
        try:
            yield client
        except DcsError as error:
            metrics.add_metric(
                name=f"DcsErrors{type(error).__name__.removeprefix('Dcs')}", unit=MetricUnit.Count, value=1
            )
            if isinstance(error, DcsAuthError):
                self.close()
            raise


def connect(
    settings: DcsSettings, timing: Timing, *, max_records: int = 10_000, max_instances: int = 10_000
) -> DcsRestoresClient:
    """A DCS client with the settings' endpoint, credentials and limits; reads the credentials afresh."""
    credentials = load_credentials(settings)
    try:
        return DcsRestoresClient(
            settings.endpoint,
            credentials,
            max_page_bytes=settings.max_page_bytes,
            connect_timeout=timing.dcs_connect_timeout,
            read_timeout=timing.dcs_read_timeout,
            min_request_time=timing.min_dcs_request,
            max_records=max_records,
            max_instances=max_instances,
            allow_http=settings.aws_sam_local,  # the layer knows nothing of AWS: the settings decide
        )
    except ValueError as error:
        raise ConfigurationError("DCS_ENDPOINT", str(error)) from None


def load_credentials(settings: DcsSettings) -> Credentials:
    """From the Secrets Manager secret (JSON with ak, sk, optional security_token), else DCS_AK/DCS_SK."""
    if settings.dcs_credentials_secret:
        return _credentials_from_secret(settings.dcs_credentials_secret)
    return settings.local_credentials()


def _credentials_from_secret(name: str) -> Credentials:
    from aws_lambda_powertools.utilities.parameters import get_secret  # imports boto3: only when a secret is configured
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
    from botocore.exceptions import BotoCoreError

    try:
        # Read afresh by each new DCS client: the first, and the one after an auth failure.
        value: Any = get_secret(name, transform="json", force_fetch=True)
    except (GetParameterError, TransformParameterError, BotoCoreError) as error:  # never echo the value
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
