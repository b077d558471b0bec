"""`dcs-restore-watch emulator --host`: the emulator (and moto, with --aws-port) where a container can reach them."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import pytest

from dcs_restores import Credentials, DcsRestoresClient
from devkit.emulator import DEFAULT_AK, DEFAULT_SK, Emulator
from devkit.local import LEDGER_TABLE, LOCAL_REGION, QUEUE_NAME

from ..support import CLI, ROOT, clean_environment, free_port, window_query

NOT_OURS = "203.0.113.7"  # TEST-NET-3: documentation only, never an address of this machine


def own_address() -> str | None:
    """This machine's own non-loopback IPv4 address, found without sending anything; None when it has none."""
    candidates: set[str] = set()
    with suppress(OSError):  # the host name does not resolve
        candidates |= {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, suppress(OSError):  # OSError: no route at all
        probe.connect(("192.0.2.1", 9))  # a UDP "connection" only picks the route's source address
        candidates.add(str(probe.getsockname()[0]))
    usable = sorted(address for address in candidates if not ipaddress.ip_address(address).is_loopback)
    return usable[0] if usable else None


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


def test_the_emulator_and_moto_serve_requests_made_to_the_address_they_were_told_to_bind() -> None:
    address = own_address()
    if address is None:
        # No address but loopback here: then an address that is not this machine's is refused, by name
        with pytest.raises(OSError, match="assign requested address"):
            Emulator(host=NOT_OURS)
        return
    # Given the emulator and moto told to listen on this machine's own, non-loopback address
    with emulator_process("--host", address, "--port", "0", "--aws-port", str(free_port()), "--records", "25") as env:
        endpoint = env["DCS_ENDPOINT"]
        assert urlsplit(endpoint).hostname == address
        # When the DCS client, allowed plain http (as sam local allows it), reads a window there
        with DcsRestoresClient(endpoint, Credentials(DEFAULT_AK, DEFAULT_SK), allow_http=True) as client:
            result = client.list_restores(window_query())
        # Then the emulator answered it: every seeded record
        assert result.total == len(result.records) == 25
        # And moto answers on the same address, with the queue and the table made
        import boto3

        assert urlsplit(env["AWS_ENDPOINT_URL"]).hostname == address
        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=LOCAL_REGION)
        sqs = session.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"])
        sqs.send_message(QueueUrl=env["FAILED_RESTORES_QUEUE_URL"], MessageBody="{}")
        assert env["FAILED_RESTORES_QUEUE_URL"].endswith(f"/{QUEUE_NAME}")
        dynamodb = session.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"])
        assert dynamodb.describe_table(TableName=LEDGER_TABLE)["Table"]["TableName"] == LEDGER_TABLE
    # And without being allowed plain http, the client refuses that address: it is not loopback
    with pytest.raises(ValueError, match="https"):
        DcsRestoresClient(endpoint, Credentials(DEFAULT_AK, DEFAULT_SK))


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
