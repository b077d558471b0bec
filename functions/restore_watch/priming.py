"""The watch function's SnapStart hooks (see ``common.snapstart``): what it primes, and what it drops after a restore.

Before the snapshot: the HTTP path's and the failure path's modules are imported; a direct event is
read into a query with this container's settings; the layer reads a sample window offline and the
payload is built and fitted from it, as Lambda and the HTTP API return it; a Secrets Manager read is
answered in-process; and the HTTP API's OpenAPI document is served once. Nothing is sent anywhere.

After a restore: new random seeds, and the DCS client and the forwarder's AWS clients are dropped with
the credentials and connections they hold (init makes none, but a snapshot must not pass any on).
"""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

import dcs_restores
from common import snapstart

from .container import restore_watch
from .forwarding.outcome import Forwarded
from .payload import RestorePayload
from .shaping import HTTP_BODY, LAMBDA_RESULT, fit
from .triggers import request_from_event

SAMPLE_EVENT = {
    "instance_id": "a1b2c3d4-0000-1111-2222-333344445555",
    "begin_time": "20240101000000",
    "end_time": "2024-01-02T00:00:00+00:00",
}
OPENAPI_EVENT = {
    "version": "2.0",
    "routeKey": "GET /openapi.json",
    "rawPath": "/openapi.json",
    "rawQueryString": "",
    "headers": {"accept": "application/json"},
    "requestContext": {
        "http": {"method": "GET", "path": "/openapi.json", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        "requestId": "snapstart-priming",
        "routeKey": "GET /openapi.json",
        "stage": "$default",
    },
    "isBase64Encoded": False,
}


class _PrimingContext:
    """The little of Lambda's context the HTTP resolver may read."""

    function_name = "snapstart-priming"
    aws_request_id = "snapstart-priming"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def before_snapshot() -> None:
    from . import http_api  # the event handler and its OpenAPI machinery, loaded for HTTP events
    from .forwarding import dynamodb, publisher  # noqa: F401 - the failure path's modules, and boto3's

    watch = restore_watch()  # settings from the environment; no DCS client yet, so no secret is read
    request = request_from_event(SAMPLE_EVENT, watch.settings)
    payload = RestorePayload.whole(request.query, dcs_restores.prime(), Forwarded(queued=0, already_forwarded=0))
    for encoding in (LAMBDA_RESULT, HTTP_BODY):
        fit(payload, request.limit, encoding).to_json()
    snapstart.prime_secret_read()
    answer: dict[str, Any] = http_api.resolver.resolve(OPENAPI_EVENT, cast(LambdaContext, _PrimingContext()))
    if answer["statusCode"] != 200:
        raise RuntimeError(f"priming: GET /openapi.json answered {answer['statusCode']}")


def after_restore() -> None:
    snapstart.forget_shared_state()
    restore_watch().disconnect()
