"""What the README states about the workflows' errors, read from it: the tests hold the ASL to these words."""

from __future__ import annotations

import re

from ..support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
_ERROR_TABLE_HEADER = "| error name | meaning | retry? |"


def retried_error_names() -> set[str]:
    """The errors the README's table of error names says a workflow should retry (its rows marked "yes")."""
    lines = README[README.index(_ERROR_TABLE_HEADER) :].splitlines()[2:]  # past the header and its rule
    names: set[str] = set()
    for line in lines:
        if not line.startswith("|"):
            break
        first, *_, retry = (cell.strip() for cell in line.strip("|").split("|"))
        if retry == "yes":
            names.update(re.findall(r"`([A-Za-z]+)`", first))
    return names


def retry_attempts() -> int:
    """The ``MaxAttempts`` the README gives every ``Retry`` of both state machines."""
    [attempts] = set(re.findall(r"`MaxAttempts` (\d+)", README))
    return int(attempts)
