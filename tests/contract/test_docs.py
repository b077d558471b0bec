"""The README a newcomer reads first: short, and every link it gives leads somewhere.

The pages under docs/ are checked by `make docs` (`mkdocs build --strict` fails on a broken link or anchor); the
README is not part of that site, so its links are checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT

README = ROOT / "README.md"
MAX_README_LINES = 300
FENCED = re.compile(r"^```.*?^```", flags=re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def prose(path: Path) -> str:
    """The Markdown outside fenced blocks, where a link is a link (a diagram's brackets are not)."""
    return FENCED.sub("", path.read_text(encoding="utf-8"))


def anchor(heading: str) -> str:
    """A heading's anchor as GitHub and mkdocs spell it: its text in lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors on its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(heading) for heading in re.findall(r"^#{1,6} (.+)$", prose(path), flags=re.MULTILINE)}


def relative_links(path: Path) -> list[str]:
    return [link for link in LINK.findall(prose(path)) if not re.match(r"[a-z]+:", link)]


def test_the_readme_is_short_enough_to_read_first() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= MAX_README_LINES


def test_the_readme_shows_what_ci_runs() -> None:
    # .ci/run runs `make test`, which the README's quick start shows
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "\nmake test" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize("link", sorted(set(relative_links(README))))
def test_every_link_of_the_readme_leads_to_a_file_and_heading_that_exist(link: str) -> None:
    target, _, fragment = link.partition("#")
    page = (README.parent / target).resolve() if target else README
    assert page.is_file(), f"README.md links {link}: no such file"
    if fragment:
        assert fragment in anchors(page), f"README.md links {link}: {page.name} has no such heading"


def test_the_readme_links_every_page_of_the_docs() -> None:
    linked = {link.partition("#")[0] for link in relative_links(README)}
    pages = {path.relative_to(ROOT).as_posix() for path in (ROOT / "docs").glob("*.md")}
    assert pages - linked == set()


def test_the_anchors_are_read_as_mkdocs_and_github_spell_them() -> None:
    assert anchor("Build, bytecode and what the runtime provides") == "build-bytecode-and-what-the-runtime-provides"
    assert anchor("`sam local` with the dev kit") == "sam-local-with-the-dev-kit"
    assert anchor("The sweep's schedule") == "the-sweeps-schedule"
    assert anchor("The DCS client library (`dcs_restores`)") == "the-dcs-client-library-dcs_restores"
