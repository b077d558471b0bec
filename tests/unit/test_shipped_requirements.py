"""What ships is pinned, closed and at peace with the runtime's botocore.

The layer and the functions install their requirements with ``--no-deps`` (``ci/lambda_build.py``), so
each file must pin its whole closure itself: a dependency that is neither pinned nor provided by the
layer or the runtime would be missing in Lambda. The versions' metadata is read from this environment,
which installs ``requirements.lock``: the pins must be the lock's.

The python3.13 runtime ships boto3 with botocore, s3transfer, jmespath, python-dateutil, six and urllib3.
Lambda's import path puts the function (``/var/task``) and the layer (``/opt/python``) ahead of the
runtime's packages, so the runtime's botocore imports our urllib3 (the layer's, for requests) and our
jmespath (Powertools'): both must be versions that botocore accepts.
"""

from __future__ import annotations

import re
from importlib.metadata import requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).parent.parent.parent
LAYER = ROOT / "layers/dcs_restores/requirements.txt"
FUNCTION = ROOT / "functions/requirements.txt"
RUNTIME = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python_dateutil", "six", "urllib3"})
# The marker environment of the python3.13 runtime on arm64, where ``extra`` is none.
LAMBDA = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "extra": "",
}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines, by normalised name; anything else in the file fails."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        text = line.split("#")[0].strip()
        if text:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+!-]+)", text)
            assert match, f"{path.name}: not an exact pin: {text}"
            found[normalised(match[1])] = match[2]
    return found


def needs(name: str) -> list[Requirement]:
    """What the installed ``name`` requires in the runtime, extras and other platforms left out."""
    return [
        requirement
        for requirement in map(Requirement, requires(name) or [])
        if requirement.marker is None or requirement.marker.evaluate(LAMBDA)
    ]


@pytest.mark.parametrize("path", [LAYER, FUNCTION], ids=["layer", "function"])
def test_every_pin_is_the_locks_version(path: Path) -> None:
    for name, pinned in pins(path).items():
        assert version(name) == pinned, f"{path.name}: {name}=={pinned}, but requirements.lock installs {version(name)}"


def closure_problems(shipped: dict[str, str], available: dict[str, str], runtime: frozenset[str]) -> list[str]:
    """What ``shipped``'s pins need that neither they, ``available`` (pins) nor ``runtime`` (names) give."""
    present = {**available, **shipped}
    problems = []
    for name in shipped:
        for requirement in needs(name):
            dependency = normalised(requirement.name)
            if dependency in present and not requirement.specifier.contains(present[dependency], prereleases=True):
                problems.append(f"{name} needs {requirement}, not {present[dependency]}")
            elif dependency not in present and dependency not in runtime:
                problems.append(f"{name} needs {requirement}: pin it")
    return problems


def test_the_layer_pins_its_whole_closure() -> None:
    assert closure_problems(pins(LAYER), {}, frozenset()) == []


def test_the_function_pins_its_closure_less_what_the_layer_and_the_runtime_give() -> None:
    assert closure_problems(pins(FUNCTION), pins(LAYER), RUNTIME) == []


def test_a_missing_or_wrong_pin_is_found() -> None:
    layer = pins(LAYER)
    assert closure_problems({k: v for k, v in layer.items() if k != "urllib3"}, {}, frozenset()) == [
        "requests needs urllib3<3,>=1.26: pin it"
    ]
    assert closure_problems({**layer, "typing_extensions": "4.0.0"}, {}, frozenset()) == [
        "pydantic needs typing-extensions>=4.14.1, not 4.0.0",
        "pydantic_core needs typing-extensions>=4.14.1, not 4.0.0",
        "typing_inspection needs typing-extensions>=4.15.0, not 4.0.0",
    ]


def test_no_function_ships_what_the_runtime_provides_but_what_powertools_pins_for_itself() -> None:
    assert set(pins(FUNCTION)) & RUNTIME == {"jmespath"}  # Powertools' JMESPath, in a version botocore accepts too


def test_the_runtimes_botocore_accepts_the_urllib3_and_jmespath_imported_ahead_of_its_own() -> None:
    ahead = {**pins(LAYER), **pins(FUNCTION)}
    checked = set()
    for requirement in needs("botocore"):
        dependency = normalised(requirement.name)
        if dependency in ahead:
            assert requirement.specifier.contains(ahead[dependency]), f"botocore needs {requirement}"
            checked.add(dependency)
    assert checked == {"urllib3", "jmespath"}
