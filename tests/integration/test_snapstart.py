"""SnapStart's hooks: priming makes a first invocation import nothing, reads no secret, calls nobody;
a restore gives each container its own random seeds and no client, connection or credential of the snapshot.

The end-to-end tests run a container in a fresh interpreter (``snapstart_container``): init and the
before-snapshot hooks run while DCS and AWS do not exist yet (their ports are free), so a hook that
read the secret or called DCS would fail the run; both are started for the restore and the invocation.
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from moto.server import ThreadedMotoServer

from common.snapstart import LocalRuntime
from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from devkit.invoke import LocalContext
from devkit.seed import generate_fleet, generate_records
from discover_instances import priming as discovery_priming
from discover_instances.discovery import instance_discovery
from restore_watch import priming as watch_priming
from restore_watch.app import lambda_handler
from restore_watch.container import restore_watch
from restore_watch.forwarding import ForwarderOnFirstUse

from ..support import ROOT, AwsResources, clean_environment, free_port

RECORDS = 1000  # one page, nothing failed: 1,000 records 7 minutes apart from 2024-01-01
WINDOW = {"begin_time": "20240101000000", "end_time": "20240106000000"}
SWEEP: dict[str, Any] = {
    "scheduled_time": "2024-01-01T06:00:00Z",
    "lookback": "PT6H",
    "status": None,
    "name": None,
    "tags": {},
}


def container_environment(aws_port: int, dcs_port: int, secret: str) -> dict[str, str]:
    """The deployed configuration (the secret in Secrets Manager), pointed at ports where nothing listens yet."""
    aws = f"http://127.0.0.1:{aws_port}"
    return {
        **clean_environment(),
        "AWS_ENDPOINT_URL": aws,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto's dummy keys
        "AWS_DEFAULT_REGION": "eu-west-1",
        "DCS_ENDPOINT": f"http://127.0.0.1:{dcs_port}",
        "DCS_PROJECT_ID": DEFAULT_PROJECT_ID,
        "DCS_CREDENTIALS_SECRET": secret,
        "FAILED_RESTORES_QUEUE_URL": f"{aws}/123456789012/failed-restores",
        "RESTORE_LEDGER_TABLE": "restore-ledger",
        "POWERTOOLS_SERVICE_NAME": "dcs-restore-watch",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def run_container(
    module: str, event: dict[str, Any], serve_dcs: Callable[[int], Emulator], tmp_path: Path
) -> tuple[dict[str, Any], Emulator]:
    """Init and the before-snapshot hooks with no peer up; then DCS and AWS, the restore and one invocation.

    ``serve_dcs`` makes the emulator on the port given, once the snapshot is taken.
    """
    aws_port, dcs_port = free_port(), free_port()
    outcome = tmp_path / "outcome.json"
    command = [sys.executable, "-m", "tests.integration.snapstart_container", module, json.dumps(event), str(outcome)]
    secret = f"dcs-restore-watch/{uuid.uuid4()}"  # moto keeps its state for the whole test process
    environment = container_environment(aws_port, dcs_port, secret)
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as container:
        assert container.stdin is not None
        assert container.stdout is not None
        line = container.stdout.readline()
        if line != "snapshotted\n":
            container.kill()
            raise AssertionError(f"the before-snapshot hooks failed: {line}{container.communicate()[1][-3000:]}")
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
        moto.start()
        try:
            secrets = boto3.client(
                "secretsmanager", endpoint_url=f"http://127.0.0.1:{aws_port}", region_name="eu-west-1"
            )
            secrets.create_secret(Name=secret, SecretString=json.dumps({"ak": DEFAULT_AK, "sk": DEFAULT_SK}))
            emulator = serve_dcs(dcs_port)
            with emulator:
                _, errors = container.communicate("restore\n", timeout=120)
        finally:
            moto.stop()
    assert container.returncode == 0, errors[-3000:]
    answer: dict[str, Any] = json.loads(outcome.read_text())
    return answer, emulator


@pytest.mark.usefixtures("moto_keys")
def test_after_the_before_snapshot_hooks_a_first_watch_imports_no_new_module(tmp_path: Path) -> None:
    # Given a container whose hooks ran before DCS and Secrets Manager existed
    records = generate_records(RECORDS, failed_every=0)
    # When it is restored and watches a window of one 1,000-record page, nothing failed
    outcome, emulator = run_container(
        "restore_watch.app",
        {"instance_id": DEFAULT_INSTANCE_ID, **WINDOW},
        lambda port: Emulator(records, port=port),
        tmp_path,
    )
    # Then the watch read the secret and the page after the restore, and imported nothing to do so
    assert (outcome["result"]["total"], outcome["result"]["forwarded"]["queued"]) == (RECORDS, 0)
    assert len(emulator.restore_requests()) == 1
    assert outcome["new_modules"] == []


@pytest.mark.usefixtures("moto_keys")
def test_after_the_before_snapshot_hooks_a_first_discovery_imports_no_new_module(tmp_path: Path) -> None:
    fleet = generate_fleet(12)
    outcome, _ = run_container(
        "discover_instances.app", SWEEP, lambda port: Emulator(instances=fleet, port=port), tmp_path
    )
    assert outcome["result"]["count"] == 12
    assert outcome["new_modules"] == []


@pytest.fixture
def moto_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's boto3 (which creates the secret) with moto's dummy keys."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.usefixtures("function_env")
def test_priming_reads_no_secret_and_asks_dcs_nothing(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    # Given containers configured with a secret that does not exist: reading it would fail
    monkeypatch.setenv("DCS_CREDENTIALS_SECRET", "no-such-secret")
    # When both functions prime themselves
    watch_priming.before_snapshot()
    discovery_priming.before_snapshot()
    # Then nothing was asked of DCS, and no client was kept
    assert emulator.restore_requests() == []
    assert emulator.instance_requests() == []
    assert not restore_watch().dcs.connected
    assert DEFAULT_PROVIDERS == {}


def test_a_restore_gives_new_random_seeds_and_drops_clients_credentials_and_connections(
    function_env: dict[str, str], aws: AwsResources
) -> None:
    # Given a container that has watched a window (failed restores forwarded) and listed the fleet
    result = lambda_handler({"instance_id": DEFAULT_INSTANCE_ID, **WINDOW}, LocalContext())
    assert result["forwarded"]["queued"] > 0
    instance_discovery().dcs.client  # noqa: B018 - built, as a discovery's first invocation builds it
    watch = restore_watch()
    assert watch.dcs.connected
    assert isinstance(watch.forwarder, ForwarderOnFirstUse)
    assert watch.forwarder.built
    assert DEFAULT_PROVIDERS  # Powertools' Secrets Manager provider, its boto3 client inside
    boto3.setup_default_session()
    before = random.getstate()
    # When it is restored from a snapshot
    watch_priming.after_restore()
    discovery_priming.after_restore()
    # Then its random sequence is its own, and no client, pool or credential is left to reuse
    assert random.getstate() != before
    assert not watch.dcs.connected
    assert not watch.forwarder.built
    assert not instance_discovery().dcs.connected
    assert DEFAULT_PROVIDERS == {}
    assert boto3.DEFAULT_SESSION is None
    # And the next invocation reads the secret and connects anew
    assert lambda_handler({"instance_id": DEFAULT_INSTANCE_ID, **WINDOW}, LocalContext())["total"] == result["total"]


def test_the_local_runtime_runs_hooks_in_lambdas_order() -> None:
    runtime = LocalRuntime()
    ran: list[str] = []
    for name in ("first", "second"):
        runtime.register_before_snapshot(functools.partial(ran.append, f"before {name}"))
        runtime.register_after_restore(functools.partial(ran.append, f"after {name}"))
    runtime.snapshot()
    runtime.restore()
    assert ran == ["before second", "before first", "after first", "after second"]
