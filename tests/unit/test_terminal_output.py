"""What the command prints of text that came from DCS: one plain line, whatever the text holds."""

from __future__ import annotations

import pytest

from devkit.local import say


def test_text_from_dcs_cannot_forge_lines_or_colour_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a restore ID that holds a newline, a forged prefix, ANSI colours and a bidi override
    say("r-1\ndcs-restore-watch: forged \x1b[31mred\x1b[0m \u202eevil\x7f")
    # Then the command writes one line, with each control character escaped
    written = capsys.readouterr().err
    assert written == "dcs-restore-watch: r-1\\x0adcs-restore-watch: forged \\x1b[31mred\\x1b[0m \\u202eevil\\x7f\n"


def test_ordinary_text_is_left_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    say("a1b2 dcs.08.0002: Échec de la restauration (失败)")
    assert capsys.readouterr().err == "dcs-restore-watch: a1b2 dcs.08.0002: Échec de la restauration (失败)\n"
