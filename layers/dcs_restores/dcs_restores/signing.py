"""Huawei Cloud AK/SK request signing, scheme ``SDK-HMAC-SHA256``.

Byte for byte the canonicalisation of the official ``huaweicloudsdkcore`` signer, so that the
API gateway (and the dev kit's emulator, which reuses these functions to verify) computes the
same signature. The query string sent on the wire must be :func:`canonical_query` of the same pairs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DATE_HEADER = "X-Sdk-Date"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Credentials:
    """An access key pair, optionally temporary (with a security token).

    ``repr`` shows the access key only, so credentials never reach a log line by accident.
    """

    ak: str
    sk: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.ak or not self.sk:
            raise ValueError("credentials need both an access key (ak) and a secret key (sk)")


def _encode(value: str) -> str:
    # RFC 3986: everything but unreserved characters is escaped; quote() keeps "_.-" and we add "~".
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Each segment percent-encoded (after decoding once), always ending in ``/``."""
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Pairs sorted on their raw values, then encoded: the official signer's order exactly."""
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(pairs))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    # The official signer leaves out any header whose name holds an underscore.
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_names: list[str],
    body: bytes = b"",
) -> str:
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered.get(name, '')}\n" for name in signed_names)
    payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    return "\n".join(
        (method.upper(), canonical_uri(path), query, canonical_headers, ";".join(signed_names), payload_hash)
    )


def signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def format_sdk_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(DATE_FORMAT)


def sign(
    credentials: Credentials,
    method: str,
    host: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    *,
    now: datetime,
    body: bytes = b"",
) -> dict[str, str]:
    """Return ``headers`` plus ``Host``, ``X-Sdk-Date``, the security token and ``Authorization``.

    ``query`` must already be canonical (see :func:`canonical_query`): it is what goes on the wire.
    """
    signed = dict(headers)
    signed.setdefault("Host", host)
    signed[DATE_HEADER] = format_sdk_date(now)
    if credentials.security_token:
        signed["X-Security-Token"] = credentials.security_token
    names = signed_header_names(signed)
    canonical = canonical_request(method, path, query, signed, names, body)
    digest = signature(credentials.sk, signed[DATE_HEADER], canonical)
    signed["Authorization"] = (
        f"{ALGORITHM} Access={credentials.ak}, SignedHeaders={';'.join(names)}, Signature={digest}"
    )
    return signed
