"""Each function loads its own package and what it needs of ``common``: never another function's package.

Each import runs in a fresh interpreter, as a cold start does, and reads ``sys.modules`` after it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FUNCTIONS = ("restore_watch", "discover_instances", "sweep_summary")
# What the summary may load of common: the sweep's contract and what it reads (settings' limits, base errors).
SUMMARY_COMMON = {"common", "common.sweep", "common.settings", "common.errors"}


def loaded_by(module: str) -> set[str]:
    """The modules a fresh interpreter holds once it has imported ``module``."""
    probe = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    loaded: list[str] = json.loads(done.stdout)
    return set(loaded)


def packages(modules: set[str]) -> set[str]:
    return {module.partition(".")[0] for module in modules}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_s_handler_loads_no_other_function_s_package(function: str) -> None:
    loaded = packages(loaded_by(f"{function}.app"))
    assert function in loaded
    assert loaded.isdisjoint(set(FUNCTIONS) - {function}), sorted(loaded & set(FUNCTIONS))


def test_loading_the_discovery_imports_no_module_of_the_watch() -> None:
    loaded = loaded_by("discover_instances.app")
    assert sorted(module for module in loaded if module.partition(".")[0] == "restore_watch") == []
    assert {"common.connection", "common.observability", "common.snapstart"} <= loaded  # what it shares instead


def test_the_summary_loads_the_sweep_s_contract_and_no_powertools() -> None:
    loaded = loaded_by("sweep_summary.app")
    assert "aws_lambda_powertools" not in packages(loaded)
    assert {module for module in loaded if module.partition(".")[0] == "common"} == SUMMARY_COMMON


def test_the_shared_package_loads_nothing_by_itself() -> None:
    assert {module for module in loaded_by("common") if module.partition(".")[0] == "common"} == {"common"}


def test_forwarding_imports_nothing_of_the_watch_above_it() -> None:
    loaded = loaded_by("restore_watch.forwarding.publisher, restore_watch.forwarding.dynamodb")
    watch = {module for module in loaded if module.partition(".")[0] == "restore_watch"}
    assert {module for module in watch if not module.startswith("restore_watch.forwarding")} == {"restore_watch"}
