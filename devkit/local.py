"""The embedded default: with no cloud configured, run against the emulator and moto's server.

``DCS_ENDPOINT`` and ``DCS_REGION`` unset start the DCS emulator in-process with a seeded fleet and records
(some failed; see ``devkit.embedded``);
``FAILED_RESTORES_QUEUE_URL`` unset starts moto's server on loopback with the queue and the
ledger table. Set them (and credentials) and the same commands talk to the real services.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dcs_restores import region_endpoint

from .embedded import DEMO_RESTORE_ID, DEMO_STATUSES, embedded_fleet
from .emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator, local_url

QUEUE_NAME = "dcs-restore-watch-failed-restores"
LEDGER_TABLE = "dcs-restore-watch-ledger"
LOCAL_REGION = "eu-west-1"  # moto's region for the queue and table of `emulator --aws-port` (sam local --region)


@dataclass
class LocalServices:
    """What the embedded default started; empty when real services are configured."""

    emulator: Emulator | None = None
    queue_url: str | None = None
    notes: list[str] = field(default_factory=list)
    demo_restore: tuple[str, str] | None = None  # instance and restore ID that go waiting → restoring → succeed

    def queued_messages(self) -> list[dict[str, Any]]:
        """The bodies now in the embedded queue (left there), or nothing when it is not ours."""
        if self.queue_url is None:
            return []
        return [json.loads(message["Body"]) for message in receive_all(self.queue_url)]


@contextmanager
def local_services(environ: MutableMapping[str, str] = os.environ) -> Iterator[LocalServices]:
    """Fill in what ``environ`` leaves unset with loopback services, for as long as the block runs."""
    services = LocalServices()
    with ExitStack() as stack:
        if not environ.get("DCS_ENDPOINT") and not environ.get("DCS_REGION"):
            # The project is the one asked for (dcs-restore-watch invoke --project-id), else the emulator's own.
            project_id = environ.get("DCS_PROJECT_ID") or DEFAULT_PROJECT_ID
            fleet = embedded_fleet()
            services.emulator = Emulator(fleet.records, instances=fleet.instances, project_id=project_id)
            services.emulator.progress(DEMO_RESTORE_ID, DEMO_STATUSES)
            url = stack.enter_context(services.emulator)
            environ.update(DCS_ENDPOINT=url, DCS_PROJECT_ID=project_id, DCS_AK=DEFAULT_AK, DCS_SK=DEFAULT_SK)
            environ.setdefault("DCS_INSTANCE_ID", DEFAULT_INSTANCE_ID)
            environ.pop("DCS_CREDENTIALS_SECRET", None)
            environ.pop("DCS_SECURITY_TOKEN", None)
            services.notes.append(
                f"embedded default: DCS is the local emulator at {url} "
                f"(a fleet of {fleet.size} instances; 40 seeded records on {DEFAULT_INSTANCE_ID} on 2024-01-01)"
            )
            services.demo_restore = (DEFAULT_INSTANCE_ID, DEMO_RESTORE_ID)
        else:
            services.notes.append(_configured_dcs(environ))
        if not environ.get("FAILED_RESTORES_QUEUE_URL"):
            endpoint, services.queue_url = stack.enter_context(aws_peers(environ))
            environ.update(FAILED_RESTORES_QUEUE_URL=services.queue_url, RESTORE_LEDGER_TABLE=LEDGER_TABLE)
            services.notes.append(f"embedded default: SQS and DynamoDB are moto's server at {endpoint}")
        environ.setdefault("POWERTOOLS_SERVICE_NAME", "dcs-restore-watch")
        environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines are for CloudWatch, not a console
        yield services


def _configured_dcs(environ: Mapping[str, str]) -> str:
    """Which DCS the run will call, as the function's settings resolve it (DCS_ENDPOINT wins over DCS_REGION)."""
    if environ.get("DCS_ENDPOINT"):
        given = environ["DCS_ENDPOINT"].strip()
        shown = printable_endpoint(given)
        if shown is None:
            return "DCS is what DCS_ENDPOINT names (not shown: it is not a plain URL)"
        if shown.lower() != given.removesuffix("/").lower():
            return f"DCS is {shown} (DCS_ENDPOINT; its user, path and query not shown)"
        return f"DCS is {shown} (DCS_ENDPOINT)"
    region = environ["DCS_REGION"]
    try:
        return f"DCS is {region_endpoint(region)} (DCS_REGION {region})"
    except ValueError:  # the function's settings refuse it by name
        return f"DCS is the region {region} (DCS_REGION)"


def printable_endpoint(url: str) -> str | None:
    """``url``'s scheme, host and port, the only parts that may be printed: a user, password, path or query
    can hold a secret. None when that much cannot be told apart from the rest."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # a port or an IPv6 address that does not read: perhaps a password cut short by a "/"
        return None
    if not parts.scheme or not host or "@" in parts.path + parts.query + parts.fragment:
        return None  # an "@" past the host: a password holding "/", "?" or "#" was read as the path or query
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


@contextmanager
def moto_server(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """moto's server (a free loopback port by default) for as long as the block runs: the URL this machine reaches.

    ``OSError`` when it cannot listen there.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines on the console
    if port:  # moto's thread would wait forever for a server that failed to listen: try the address first
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        socket.create_server((host, port), family=family).close()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        yield local_url(*server.get_host_and_port())
    finally:
        server.stop()


@contextmanager
def aws_peers(
    environ: MutableMapping[str, str], host: str = "127.0.0.1", port: int = 0, region: str | None = None
) -> Iterator[tuple[str, str]]:
    """moto's server with the failed-restores queue and the ledger table, boto3 in ``environ`` pointed at it.

    Yields moto's endpoint and the queue's URL, as this machine reaches them. moto keeps its resources per
    region: ``region``, else the environment's own (eu-west-1 when it has none).
    """
    with moto_server(host, port) as endpoint:
        environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto accepts any key  # nosec B106
            AWS_DEFAULT_REGION=region or environ.get("AWS_DEFAULT_REGION", LOCAL_REGION),
        )
        environ.pop("AWS_SESSION_TOKEN", None)
        environ.pop("AWS_PROFILE", None)
        yield endpoint, _create_queue_and_ledger()


def _create_queue_and_ledger() -> str:
    import boto3

    queue_url: str = boto3.client("sqs").create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    create_ledger_table(LEDGER_TABLE)
    return queue_url


def create_ledger_table(name: str) -> None:
    """The ledger's table as the template defines it (key ``pk``), in whatever DynamoDB boto3 reaches."""
    import boto3

    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def receive_all(queue_url: str, *, visible_again: bool = False) -> list[dict[str, Any]]:
    """Every message now in the queue, with its attributes; not deleted.

    Received messages are hidden for a minute, so that each is read once; ``visible_again`` then
    makes them visible at once, for a caller that reads the queue again later.
    """
    import boto3

    sqs = boto3.client("sqs")
    received: dict[str, dict[str, Any]] = {}
    for _ in range(1000):
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not batch:
            break
        received.update((message["MessageId"], dict(message)) for message in batch)
    messages = list(received.values())
    if visible_again:
        for start in range(0, len(messages), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, message in enumerate(messages[start : start + 10])
                ],
            )
    return messages


# C0 and C1 controls, DEL, and the Unicode line and bidi controls: what could forge a line or recolour
# the terminal when text that came from DCS (restore IDs, error messages, request IDs) is printed.
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPED = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROLS}


def printable(text: str) -> str:
    """``text`` with every control character written as its escape: one line, no terminal codes."""
    return text.translate(_ESCAPED)


def say(message: str) -> None:
    """One line on stderr; whatever the message holds, it stays one plain line."""
    print(f"dcs-restore-watch: {printable(message)}", file=sys.stderr, flush=True)


def print_json(value: Any) -> None:
    """``print(json.dumps(value, indent=2))`` written as it is encoded: a payload can be tens of MB."""
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()


class UsageError(ValueError):
    """A flag, or a combination of flags, the command cannot run with: the message is one line that names it."""
