"""What the docs state about the workflows' errors, read from their pages: the tests hold the ASL to these words."""

from __future__ import annotations

import re

from ..support import ROOT

DOCS = ROOT / "docs"
# The function's page has the table of error names; the workflows' page the attempts of every Retry.
FUNCTION_PAGE = (DOCS / "function.md").read_text(encoding="utf-8")
WORKFLOWS_PAGE = (DOCS / "workflows.md").read_text(encoding="utf-8")
_ERROR_TABLE_HEADER = "| error name | meaning | retry? |"


def retried_error_names() -> set[str]:
    """The errors the function page's table of error names says a workflow should retry (its rows marked "yes")."""
    lines = FUNCTION_PAGE[FUNCTION_PAGE.index(_ERROR_TABLE_HEADER) :].splitlines()[2:]  # past the header and its rule
    names: set[str] = set()
    for line in lines:
        if not line.startswith("|"):
            break
        first, *_, retry = (cell.strip() for cell in line.strip("|").split("|"))
        if retry == "yes":
            names.update(re.findall(r"`([A-Za-z]+)`", first))
    return names


def retry_attempts() -> int:
    """The ``MaxAttempts`` the workflows page gives every ``Retry`` of both state machines."""
    [attempts] = set(re.findall(r"`MaxAttempts` (\d+)", WORKFLOWS_PAGE))
    return int(attempts)
