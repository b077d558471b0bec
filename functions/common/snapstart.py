"""SnapStart's runtime hooks: prime before the snapshot, forget what containers must not share after a restore.

With the template's ``SnapStart`` parameter on, Lambda runs a version's init once, then its
before-snapshot hooks, snapshots the environment and resumes every new container from that snapshot,
running the after-restore hooks first. What the hooks prime is paid for once per version instead of
at every cold start; what init leaves behind is shared by every container resumed from the snapshot.

Before the snapshot each function imports and builds what an invocation needs and runs its paths
offline (``prime_secret_read`` here, the rest in each handler's module). No secret is read and
nothing connects: the AWS call is made by an unsigned client and answered in-process.

After a restore (``forget_shared_state``): new random seeds, as a snapshot would hand every container
the same ones; and no pooled connection or cached credential, as Powertools' parameter providers and
boto3's default session are dropped (each function drops its own clients too). SnapStart functions
get their credentials from the container endpoint, so the next client fetches fresh ones.

``snapshot_restore_py`` ships with Lambda's Python runtimes only. Elsewhere ``LOCAL`` stands in: it
keeps the hooks, and ``snapshot()`` and ``restore()`` run them in Lambda's order.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest

Hook = Callable[[], object]
PRIMING_NAME = "dcs-restore-watch-priming"  # a secret name never read: the answer is made up in-process


class LocalRuntime:
    """What Lambda's runtime does with the hooks, where ``snapshot_restore_py`` is missing (tests, benchmarks)."""

    def __init__(self) -> None:
        self._before: list[Hook] = []
        self._after: list[Hook] = []

    def register_before_snapshot(self, hook: Hook) -> Hook:
        self._before.append(hook)
        return hook

    def register_after_restore(self, hook: Hook) -> Hook:
        self._after.append(hook)
        return hook

    def snapshot(self) -> None:
        """The before-snapshot hooks, in reverse order of registration, as Lambda runs them."""
        for hook in reversed(self._before):
            hook()

    def restore(self) -> None:
        """The after-restore hooks, in order of registration."""
        for hook in self._after:
            hook()


LOCAL = LocalRuntime()


def register(before_snapshot: Hook, after_restore: Hook) -> None:
    """Hand a function's hooks to Lambda's runtime, or to ``LOCAL`` where there is none.

    Lambda runs them only for a SnapStart version; registering costs nothing otherwise.
    """
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # not in Lambda
        register_before_snapshot, register_after_restore = LOCAL.register_before_snapshot, LOCAL.register_after_restore
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)


def prime_secret_read() -> None:
    """A Secrets Manager read as the functions make it (Powertools over boto3), answered in-process.

    It loads what the first real read needs (boto3, botocore's client machinery and the service's model)
    without reading a secret or connecting: the client signs nothing, so no credentials are fetched,
    and its request never leaves the process. The client is closed and dropped.
    """
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from botocore import UNSIGNED
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    client = boto3.session.Session().client(
        "secretsmanager", region_name=region, config=Config(signature_version=UNSIGNED)
    )
    client.meta.events.register("before-send.secrets-manager.GetSecretValue", _answer_in_process)
    try:
        SecretsProvider(boto3_client=client).get(PRIMING_NAME, transform="json", force_fetch=True)
    finally:
        client.close()


def _answer_in_process(request: AWSPreparedRequest, **_: Any) -> Any:
    """GetSecretValue's answer, made up: botocore parses it as it would Secrets Manager's.

    A ``before-send`` handler that returns a response stands in for the HTTP call (typed ``Any``:
    the stubs expect such handlers to return nothing).
    """
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    body = json.dumps(
        {
            "ARN": f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{PRIMING_NAME}",
            "Name": PRIMING_NAME,
            "SecretString": json.dumps({"ak": "priming", "sk": "priming"}),
            "VersionId": "00000000-0000-4000-8000-000000000000",
            "VersionStages": ["AWSCURRENT"],
        }
    ).encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.1"
    return AWSResponse(request.url, 200, headers, _Body(body))


class _Body:
    """The raw stream AWSResponse reads its content from."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def forget_shared_state() -> None:
    """After a restore: fresh random seeds, and no AWS client or credential from the snapshot."""
    random.seed()  # from os.urandom, in this container
    import boto3
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call] # drops the providers: each holds a boto3 client

    boto3.DEFAULT_SESSION = None
