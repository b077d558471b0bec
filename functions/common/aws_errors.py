"""Reading botocore's errors without importing botocore: its error code, never its text."""

from __future__ import annotations


def aws_error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def describe(error: BaseException) -> str:
    """AWS's error code, else the exception's name: never its text, which may hold an endpoint URL."""
    return aws_error_code(error) or type(error).__name__
