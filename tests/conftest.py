"""Shared fixtures: a real DCS emulator on loopback and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dcs_restores import Credentials, DcsRestoresClient, RetryPolicy

from devkit.emulator import DEFAULT_AK, DEFAULT_SK, Emulator
from devkit.seed import generate_records

from .support import RecordingSleep


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
