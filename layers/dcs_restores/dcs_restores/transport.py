"""Signed GETs to one DCS endpoint: retried, held to a deadline, each answer read within a size bound.

One :class:`Transport` holds one pooled :class:`requests.Session`. It knows nothing of pages: it
answers a path and its query with the status, the request ID and the body, or raises the
:class:`DcsError` the answer means.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from .errors import (
    DcsAuthError,
    DcsBadRequestError,
    DcsError,
    DcsInvalidResponseError,
    DcsNotFoundError,
    DcsTimeoutError,
    DcsUnavailableError,
)
from .retry import Deadline, RetryPolicy, parse_retry_after
from .signing import Credentials, canonical_query, sign
from .watchdog import Watchdog, WatchedAdapter

# The client's lines, whichever of its modules writes them: one name to filter on.
logger = logging.getLogger("dcs_restores.client")

USER_AGENT = "dcs-restore-watch/0.1"
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_E = TypeVar("_E", bound=DcsError)
_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """What DCS answered a request: a 200 or a 204, read whole."""

    status: int
    request_id: str | None
    body: bytes


class AbandonedError(DcsError):
    """A request that stopped because another page of its listing had already failed."""


class Transport:
    """Signed, retried GETs to one DCS endpoint, each held to its deadline by a :class:`Watchdog`."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        *,
        connect_timeout: float,
        read_timeout: float,
        retry: RetryPolicy,
        max_connections: int,
        max_body_bytes: int,
        min_request_time: float,
        allow_http: bool,
        sleep: Callable[[float], None] | None,
        now: Callable[[], datetime],
    ) -> None:
        self._base_url, self._host = check_endpoint(
            endpoint, allow_http=allow_http, security_token=bool(credentials.security_token)
        )
        self._credentials = credentials
        self._timeouts = (connect_timeout, read_timeout)
        self._retry = retry
        self._max_body_bytes = max_body_bytes
        self._min_request_time = min_request_time
        self._sleep = sleep
        self._now = now
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or .netrc credentials picked up from the host
        adapter = WatchedAdapter(pool_connections=1, pool_maxsize=max_connections, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def mount(self, prefix: str, adapter: HTTPAdapter) -> None:
        """Send the requests under ``prefix`` through ``adapter`` (priming answers them in-process)."""
        self._session.mount(prefix, adapter)

    def close(self) -> None:
        self._session.close()

    def get(
        self,
        path: str,
        params: list[tuple[str, str]],
        project_id: str,
        deadline: Deadline,
        abandon: threading.Event | None = None,
    ) -> Answer:
        """GET ``path`` with ``params``, signed; 429s, 5xx and network failures retried while ``deadline`` allows
        (a request stops retrying once ``abandon`` is set). Any other status raises the error it means."""
        query = canonical_query(params)
        url = f"{self._base_url}{path}?{query}"
        last_error: DcsError | None = None
        for attempt in range(self._retry.max_attempts):
            if abandon is not None and abandon.is_set():
                raise AbandonedError("another page of this window failed")
            budget = deadline.remaining()
            if budget < self._min_request_time:
                raise last_error or DcsTimeoutError("the deadline leaves no time for a request to DCS")
            headers = sign(
                self._credentials,
                "GET",
                self._host,
                path,
                query,
                {"User-Agent": USER_AGENT, "X-Project-Id": project_id, "Accept": "application/json"},
                now=self._now(),
            )
            retry_after: float | None = None
            answered: int | None = None  # the status, once the headers have come
            with Watchdog(deadline.remaining()) as watchdog:
                try:
                    with self._session.get(
                        url,
                        headers=headers,
                        timeout=(min(self._timeouts[0], budget), min(self._timeouts[1], budget)),
                        allow_redirects=False,
                        stream=True,
                    ) as response:
                        answered = response.status_code
                        # The read timeout holds per socket read; the watchdog holds the deadline for the whole read.
                        body = _read_within(response, self._max_body_bytes)
                        answer = Answer(response.status_code, response.headers.get("X-Request-Id"), body)
                        retry_after_header = response.headers.get("Retry-After")
                except requests.Timeout:
                    last_error = DcsTimeoutError("DCS did not answer in time")
                except requests.ConnectionError as error:
                    if isinstance(error.args[0] if error.args else None, ReadTimeoutError):  # a body that stalled
                        last_error = DcsTimeoutError("DCS stopped sending in time", status=answered)
                    else:
                        last_error = DcsUnavailableError(f"could not reach DCS: {type(error).__name__}")
                except requests.RequestException as error:
                    last_error = DcsUnavailableError(f"could not reach DCS: {type(error).__name__}")
                else:
                    if not watchdog.fired and answer.status not in _RETRYABLE_STATUS:
                        _raise_for_status(answer)
                        return answer
                    last_error = _error_from(DcsUnavailableError, answer, "DCS is unavailable")
                    retry_after = parse_retry_after(retry_after_header, self._now)
            if watchdog.fired:  # whatever the read ended with, it was cut at the deadline: no retry
                if answered is None:
                    raise DcsTimeoutError("DCS did not answer before the deadline")
                raise DcsTimeoutError("the deadline passed while DCS was still sending", status=answered)
            delay = self._retry.delay(attempt, retry_after)
            if attempt + 1 == self._retry.max_attempts:
                break
            if deadline.remaining() - delay < self._min_request_time:
                last_error.message += "; the deadline leaves no time to retry"
                break
            logger.warning(
                "DCS request failed, retrying",
                extra={"error": str(last_error), "attempt": attempt + 1, "retry_in_seconds": round(delay, 3)},
            )
            self._pause(delay, abandon)
        assert last_error is not None  # for mypy: RetryPolicy keeps max_attempts >= 1  # nosec B101
        if isinstance(last_error, DcsUnavailableError | DcsTimeoutError):
            last_error.message += f" after {attempt + 1} attempt(s)"
        raise last_error

    def _pause(self, seconds: float, abandon: threading.Event | None) -> None:
        """Back off; a page of a window wakes early, and gives up, when another page has failed."""
        if self._sleep is not None:
            self._sleep(seconds)
        elif abandon is not None:
            abandon.wait(seconds)
        else:
            time.sleep(seconds)
        if abandon is not None and abandon.is_set():
            raise AbandonedError("another page of this window failed")


def _read_within(response: requests.Response, max_bytes: int) -> bytes:
    """The body, decompressed (urllib3 inflates no more than a chunk at a time), and refused the
    moment it passes ``max_bytes``: a gzip bomb or a gigabyte of padding is never held. The
    request's watchdog holds the deadline."""
    chunks = []
    size = 0
    for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise DcsInvalidResponseError(
                f"DCS sent more than {max_bytes} bytes for one page",
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id"),
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _raise_for_status(answer: Answer) -> None:
    status = answer.status
    if status in (200, 204):
        return
    if status in (401, 403):
        raise _error_from(DcsAuthError, answer, "DCS refused the credentials")
    if status == 404:
        missing = _error_from(DcsNotFoundError, answer, "DCS has no such instance")
        # Only DCS's own codes: the gateway's APIGW.0101 (no such API) or a proxy's page mean a wrong endpoint
        if missing.error_code and missing.error_code.startswith("DCS."):
            raise missing
    if 400 <= status < 500:
        raise _error_from(DcsBadRequestError, answer, "DCS rejected the request")
    raise _error_from(DcsInvalidResponseError, answer, f"unexpected HTTP status {status} from DCS")


def _error_from(kind: type[_E], answer: Answer, summary: str) -> _E:
    """Build an error carrying DCS's own ``error_code``/``error_msg`` when the body has them."""
    code = message = None
    try:
        body = json.loads(answer.body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        body = None
    if isinstance(body, dict):
        code = body.get("error_code") if isinstance(body.get("error_code"), str) else None
        message = body.get("error_msg") if isinstance(body.get("error_msg"), str) else None
    return kind(
        f"{summary}: {message}" if message else summary,
        status=answer.status,
        request_id=answer.request_id,
        error_code=code,
    )


def check_endpoint(endpoint: str, *, allow_http: bool = False, security_token: bool = False) -> tuple[str, str]:
    """``https://host[:port]``; plain ``http`` only on loopback, where the emulator runs, unless ``allow_http``.

    A security token never goes over plain http off loopback, ``allow_http`` or not: the signature proves the
    secret key without revealing it, but the token travels as it is, a credential in the clear.
    """
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("the DCS endpoint must be an https:// URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("the DCS endpoint must be scheme and host only, with no path, query or user")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        if not allow_http:
            raise ValueError("the DCS endpoint must use https (plain http is allowed on loopback only)")
        if security_token:
            raise ValueError(
                "the DCS endpoint must use https: temporary credentials' X-Security-Token never goes over "
                "plain http off loopback"
            )
    return f"{parts.scheme}://{parts.netloc}", parts.netloc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
