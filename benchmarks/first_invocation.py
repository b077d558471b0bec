"""Init and the first invocation in the deployed configuration, against a handler written on the official SDK.

Each run is a fresh CPython 3.13 on code laid out as Lambda has it (``lambda_tree``, built for this
machine): import the handler, then one direct invocation over a window of one 1,000-record page with
nothing failed; the DCS credentials come from Secrets Manager. DCS is the emulator in a process of its
own; Secrets Manager and SQS are moto's server in this one. The reference is ``reference_handler``
beside ``huaweicloudsdkdcs`` and Powertools, installed as a user's ``sam build`` installs them.

Two more ways to start ours are measured: the secret read through the AWS Parameters and Secrets
Lambda Extension instead (a stand-in serving its HTTP interface on loopback, swapped in by the probe;
not shipped), and SnapStart (the before-snapshot hooks run untimed, then the after-restore hooks and
the invocation are timed; restoring the snapshot itself is Lambda's and not counted).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from benchmarks import artifacts
from benchmarks.lambda_tree import MARK, Tree, lambda_tree, run_cold
from benchmarks.timing import Row, verdict
from benchmarks.window import emulator
from ci.lambda_build import runtime_python
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK
from devkit.local import moto_server

TARGET = 0.5
RECORDS = 1000  # one page; seeded 7 minutes apart from 2024-01-01
EVENT = {"instance_id": DEFAULT_INSTANCE_ID, "begin_time": "20240101000000", "end_time": "20240106000000"}
CREDENTIALS_ID = "dcs-restore-watch/credentials"
SESSION_TOKEN = "benchmark-session-token"  # what the extension checks its callers by  # noqa: S105
REFERENCE_HANDLER = Path(__file__).with_name("reference_handler.py")

# The probe: import the handler (init), ``{before}`` untimed, then ``{start}`` and one invocation, timed.
PROBE = """
import json, time
t0 = time.perf_counter()
import {module} as handler_module
init = time.perf_counter() - t0
secret = []
{reader}
class Context:
    function_name = "dcs-restore-watch"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:dcs-restore-watch:live"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    def get_remaining_time_in_millis(self):
        return 120000
{before}
t1 = time.perf_counter()
{start}
result = handler_module.lambda_handler({event!r}, Context())
first = time.perf_counter() - t1
print({mark!r} + json.dumps({{"init": init, "first": first, "secret": sum(secret), "total": result["total"],
      "queued": result.get("forwarded", {{}}).get("queued", 0)}}))
"""
# Ours reads the secret in one function of its connection module: timed there, or swapped for another reader.
TIMED_READ = """
import common.connection as connection  # imported with the handler
read = {read}
def timed_read(name):
    started = time.perf_counter()
    try:
        return read(name)
    finally:
        secret.append(time.perf_counter() - started)
connection._credentials_from_secret = timed_read
"""
THROUGH_EXTENSION = """
def read_through_extension(name):  # the AWS Parameters and Secrets Lambda Extension's HTTP interface
    import os, requests
    from dcs_restores import Credentials
    answer = requests.get(
        os.environ["EXTENSION_URL"] + "/secretsmanager/get", params={"secretId": name},
        headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]}, timeout=5,
    )
    answer.raise_for_status()
    value = json.loads(answer.json()["SecretString"])
    return Credentials(value["ak"], value["sk"])
"""
SNAPSTART_BEFORE = "from common.snapstart import LOCAL\nLOCAL.snapshot()"
SNAPSTART_START = "LOCAL.restore()"


def probe(module: str, *, reader: str = "", before: str = "", start: str = "") -> str:
    return PROBE.format(module=module, reader=reader, before=before, start=start, event=EVENT, mark=MARK)


def ours_probe(*, through_extension: bool = False, before: str = "", start: str = "") -> str:
    if through_extension:
        reader = THROUGH_EXTENSION + TIMED_READ.format(read="read_through_extension")
    else:
        reader = TIMED_READ.format(read="connection._credentials_from_secret")
    return probe("restore_watch.app", reader=reader, before=before, start=start)


class _Extension(BaseHTTPRequestHandler):
    """The extension's ``GET /secretsmanager/get?secretId=``: GetSecretValue's answer, for callers with the token."""

    answers: ClassVar[dict[str, str]] = {}

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        name = parse_qs(url.query).get("secretId", [""])[0]
        known = url.path == "/secretsmanager/get" and name in self.answers
        if self.headers.get("X-Aws-Parameters-Secrets-Token") != SESSION_TOKEN or not known:
            self.send_error(403 if known else 400)
            return
        body = self.answers[name].encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return


@contextmanager
def extension(answers: dict[str, str]) -> Iterator[str]:
    _Extension.answers = answers
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Extension)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def deployed(aws: str, dcs: str, queue_url: str, extension_url: str) -> dict[str, str]:
    """The function's environment as the template sets it (and Lambda: region, credentials)."""
    return {
        "AWS_ENDPOINT_URL": aws,
        "AWS_ACCESS_KEY_ID": "benchmark",
        "AWS_SECRET_ACCESS_KEY": "benchmark",
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "DCS_ENDPOINT": dcs,
        "DCS_PROJECT_ID": DEFAULT_PROJECT_ID,
        "DCS_CREDENTIALS_SECRET": CREDENTIALS_ID,
        "FAILED_RESTORES_QUEUE_URL": queue_url,
        "RESTORE_LEDGER_TABLE": "dcs-restore-watch-ledger",
        "POWERTOOLS_SERVICE_NAME": "dcs-restore-watch",
        "POWERTOOLS_METRICS_NAMESPACE": "DcsRestoreWatch",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "EXTENSION_URL": extension_url,
    }


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run(repeats: int) -> list[Row]:
    import boto3

    python = runtime_python()
    built = artifacts.ours(artifacts.HOST)
    runtime = artifacts.runtime(artifacts.HOST)
    sdk = artifacts.reference(artifacts.HOST)
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "extension": [], "snapstart": [], "reference": []}
    with moto_server() as aws, tempfile.TemporaryDirectory() as folder:
        credentials = {"AWS_ACCESS_KEY_ID": "benchmark", "AWS_SECRET_ACCESS_KEY": "benchmark"}
        with mock.patch.dict(os.environ, {**credentials, "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": aws}):
            secrets = boto3.client("secretsmanager")
            secrets.create_secret(Name=CREDENTIALS_ID, SecretString=json.dumps({"ak": DEFAULT_AK, "sk": DEFAULT_SK}))
            answer = secrets.get_secret_value(SecretId=CREDENTIALS_ID)
            queue_url: str = boto3.client("sqs").create_queue(QueueName="failed-restores")["QueueUrl"]
        stored = json.dumps({key: answer[key] for key in ("ARN", "Name", "SecretString", "VersionId")})
        with (
            emulator(RECORDS, 0.0, ["--failed-every", "0"]) as dcs,
            extension({CREDENTIALS_ID: stored}) as extension_url,
            lambda_tree(
                Path(folder, "ours"), built["RestoreWatchFunction"], built["DcsRestoresLayer"], runtime, bytecode=True
            ) as ours,
            lambda_tree(
                Path(folder, "reference"), sdk, None, runtime, bytecode=False, handler=REFERENCE_HANDLER
            ) as reference,
        ):
            environment = deployed(aws, dcs, queue_url, extension_url)
            plans: dict[str, tuple[Tree, str]] = {
                "ours": (ours, ours_probe()),
                "extension": (ours, ours_probe(through_extension=True)),
                "snapstart": (ours, ours_probe(before=SNAPSTART_BEFORE, start=SNAPSTART_START)),
                "reference": (reference, probe("reference_handler")),
            }
            for _ in range(repeats):  # each way takes its turn, every round
                for name, (tree, code) in plans.items():
                    runs[name].append(run_cold(python, tree, code, environment))
    for name, done in runs.items():
        if any(run["total"] != RECORDS or run["queued"] for run in done):
            raise RuntimeError(f"{name}: a run did not read {RECORDS} records with nothing failed: {done}")
    cold = {name: _median([run["init"] + run["first"] for run in done]) for name, done in runs.items()}
    secret = {name: _median([run["secret"] for run in done]) for name, done in runs.items()}
    snapstart = _median([run["first"] for run in runs["snapstart"]])
    reference_s = cold["reference"]
    what = f"one {RECORDS:,}-record page, nothing failed, DCS and AWS in other processes"
    return [
        Row(
            "init + first invocation, deployed configuration (secret from Secrets Manager)",
            cold["ours"],
            reference_s,
            f"reference: benchmarks/reference_handler.py on the official SDK and boto3; {what}; reading the "
            f"secret (Powertools, boto3 imported for it) took {secret['ours'] * 1000:.0f} ms of ours; "
            f"{verdict(cold['ours'] / reference_s, TARGET)}",
        ),
        Row(
            "init + first invocation, the secret through the Parameters and Secrets extension (stand-in)",
            cold["extension"],
            reference_s,
            f"not shipped: an HTTP GET on loopback instead of boto3 ({secret['extension'] * 1000:.0f} ms); the "
            "extension's own start is not counted, and it cannot serve SnapStart functions (no AWS_SESSION_TOKEN)",
        ),
        Row(
            "first invocation after a SnapStart restore (after-restore hooks + invocation)",
            snapstart,
            reference_s,
            "reference: init + first invocation as above; the before-snapshot hooks ran at publish time; "
            "Lambda's own restore of the snapshot is not counted",
        ),
    ]
