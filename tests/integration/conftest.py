"""Fixtures for tests that run the ``dcs-restore-watch`` command."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from ..support import CLI, ROOT, clean_environment


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of ``dcs-restore-watch serve`` on the embedded default, running in a subprocess."""
    log = tmp_path_factory.mktemp("serve") / "stderr.log"  # a file, not a pipe nobody drains
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", "0"],  # the banner says which port it got
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=clean_environment(),
            cwd=ROOT,
        )
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            assert banner.startswith("serving the HTTP API on "), log.read_text()
            yield banner.split()[-1]
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
