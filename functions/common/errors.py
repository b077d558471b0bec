"""The errors every function names: bad input, settings, DCS; and which of them a workflow retries.

Their messages are ours, or DCS's own words and request ID: no secret, URL or payload, so they
may be logged. Each function adds its own (the watch: unknown events, forwarding) to these.
"""

from __future__ import annotations

from dcs_restores import DcsError, DcsTimeoutError, DcsUnavailableError, InvalidQueryError


class ConfigurationError(Exception):
    """A setting is missing or invalid; ``variable`` names the environment variable."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable


class SecretUnavailableError(ConfigurationError):
    """Secrets Manager could not be reached or answered with an error that may pass: retry."""


NAMED_ERRORS: tuple[type[Exception], ...] = (InvalidQueryError, ConfigurationError, DcsError)
# What may pass on its own: a workflow's Retry names each of these (their subclasses too) where a function raises them.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (DcsUnavailableError, DcsTimeoutError, SecretUnavailableError)
