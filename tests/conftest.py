"""Shared fixtures: a real DCS emulator on loopback and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from dcs_restores import Credentials, DcsRestoresClient, RetryPolicy
from devkit.emulator import DEFAULT_AK, DEFAULT_SK, Emulator
from devkit.seed import generate_records

from .support import AwsResources, RecordingSleep, fresh_container, use_function_environment, use_moto_credentials


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    server = Emulator(generate_records(35))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_client(emulator: Emulator, sleep: RecordingSleep) -> Iterator[Callable[..., DcsRestoresClient]]:
    clients: list[DcsRestoresClient] = []

    def build(**options: Any) -> DcsRestoresClient:
        options.setdefault("retry", RetryPolicy(base_delay=0.01, max_delay=0.05))
        options.setdefault("sleep", sleep)
        credentials = options.pop("credentials", Credentials(DEFAULT_AK, DEFAULT_SK))
        client = DcsRestoresClient(options.pop("endpoint", emulator.url), credentials, **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    """moto in-process: the failed-restores queue, the ledger table and the credentials secret."""
    use_moto_credentials(monkeypatch)
    with mock_aws():
        yield AwsResources.create()


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, aws: AwsResources) -> Iterator[dict[str, str]]:
    """The function's environment, pointed at the emulator and moto; a fresh container each test."""
    yield use_function_environment(
        monkeypatch, emulator.url, aws.queue_url, aws.table_name, aws.secret_name, MAX_WINDOW_DAYS="31"
    )
    fresh_container()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` first: in a parallel run (``make test``) the workers then finish together."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
