"""`dcs-restore-watch emulator --host`: the emulator (and moto, with --aws-port) where a container can reach them."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from dcs_restores import Credentials, DcsRestoresClient
from devkit.emulator import DEFAULT_AK, DEFAULT_SK, Emulator
from devkit.local import LEDGER_TABLE, LOCAL_REGION, QUEUE_NAME

from ..support import CLI, ROOT, clean_environment, free_port, window_query

NOT_OURS = "203.0.113.7"  # TEST-NET-3: documentation only, never an address of this machine
# Loopback too (127.0.0.0/8), but not the address of a server bound to 127.0.0.1: one bound to every interface
# answers there, as it answers a container. The tests' traffic stays on loopback, never on this machine's network.
SECOND_LOOPBACK = "127.0.0.2"


@contextmanager
def emulator_process(*args: str) -> Iterator[dict[str, str]]:
    """`dcs-restore-watch emulator ARGS` in a subprocess; yields the NAME=value lines it printed on starting."""
    process = subprocess.Popen(
        [*CLI, "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_environment(),
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        printed: dict[str, str] = {}
        for line in process.stdout:
            name, equals, value = line.strip().partition("=")
            if equals:
                printed[name] = value
            if name == ("RESTORE_LEDGER_TABLE" if "--aws-port" in args else "DCS_SK"):
                break
        assert printed, process.stderr.read() if process.stderr else ""
        yield printed
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_on_every_interface_the_emulator_and_moto_answer_on_more_than_the_address_they_print() -> None:
    # Given the emulator and moto told to listen on every interface, as sam local's containers need them
    args = ("--host", "0.0.0.0", "--port", "0", "--aws-port", str(free_port()), "--records", "25")  # noqa: S104
    with emulator_process(*args) as env:
        # Then they print how this machine reaches them: on loopback
        assert urlsplit(env["DCS_ENDPOINT"]).hostname == urlsplit(env["AWS_ENDPOINT_URL"]).hostname == "127.0.0.1"
        # And the emulator answers the DCS client there, and on another address it was not bound to by name
        for host in ("127.0.0.1", SECOND_LOOPBACK):
            endpoint = env["DCS_ENDPOINT"].replace("127.0.0.1", host)
            with DcsRestoresClient(endpoint, Credentials(DEFAULT_AK, DEFAULT_SK)) as client:
                result = client.list_restores(window_query())
            assert result.total == len(result.records) == 25
        # And so does moto, with the queue and the table made
        import boto3

        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=LOCAL_REGION)
        aws_endpoint = env["AWS_ENDPOINT_URL"].replace("127.0.0.1", SECOND_LOOPBACK)
        sqs = session.client("sqs", endpoint_url=aws_endpoint)
        sqs.send_message(QueueUrl=env["FAILED_RESTORES_QUEUE_URL"], MessageBody="{}")
        assert env["FAILED_RESTORES_QUEUE_URL"].endswith(f"/{QUEUE_NAME}")
        dynamodb = session.client("dynamodb", endpoint_url=aws_endpoint)
        assert dynamodb.describe_table(TableName=LEDGER_TABLE)["Table"]["TableName"] == LEDGER_TABLE


def test_bound_to_loopback_alone_the_emulator_does_not_answer_on_another_address() -> None:
    # What makes the test above worth its name: a server on 127.0.0.1 only is not reached through 127.0.0.2
    with Emulator() as url, pytest.raises(ConnectionRefusedError):
        socket.create_connection((SECOND_LOOPBACK, int(url.rsplit(":", 1)[1])), timeout=10).close()


def test_on_every_interface_it_says_how_a_container_reaches_it() -> None:
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "emulator", "--host", "0.0.0.0", "--port", str(port)],  # noqa: S104 - what sam local needs
        stdout=subprocess.PIPE,
        text=True,
        env=clean_environment(),
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert lines == [
        f"DCS emulator listening on http://127.0.0.1:{port}",
        f"on every interface: a container (sam local) reaches it at http://host.docker.internal:{port}",
        f"DCS_ENDPOINT=http://127.0.0.1:{port}",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", NOT_OURS, "--port", "0"], f"cannot listen on port 0 of {NOT_OURS}: "),
        (["--host", "no-such-host.invalid", "--port", "0"], "cannot listen on port 0 of no-such-host.invalid: "),
        (["--port", "0", "--aws-port", "BUSY"], "cannot listen on port BUSY of 127.0.0.1: "),
    ],
)
def test_an_address_it_cannot_have_is_one_clear_line(args: list[str], message: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args = [port if arg == "BUSY" else arg for arg in args]
        done = subprocess.run(
            [*CLI, "emulator", *args],
            capture_output=True,
            text=True,
            env=clean_environment(),
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"dcs-restore-watch: {message.replace('BUSY', port)}")
    assert "Traceback" not in done.stderr
