"""What the command prints of text that came from DCS: one plain line, whatever the text holds."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest

from devkit.local import say
from devkit.progress import CLEAR, ProgressLine
from devkit.table import payload_table
from restore_watch.payload import RestorePayload


def test_text_from_dcs_cannot_forge_lines_or_colour_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a restore ID that holds a newline, a forged prefix, ANSI colours and a bidi override
    say("r-1\ndcs-restore-watch: forged \x1b[31mred\x1b[0m \u202eevil\x7f")
    # Then the command writes one line, with each control character escaped
    written = capsys.readouterr().err
    assert written == "dcs-restore-watch: r-1\\x0adcs-restore-watch: forged \\x1b[31mred\\x1b[0m \\u202eevil\\x7f\n"


def test_ordinary_text_is_left_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    say("a1b2 dcs.08.0002: Échec de la restauration (失败)")
    assert capsys.readouterr().err == "dcs-restore-watch: a1b2 dcs.08.0002: Échec de la restauration (失败)\n"


def payload_with(**changes: Any) -> RestorePayload:
    record = {
        "restore_id": "r-1\x1b[31m",
        "status": "failed",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T01:02:03Z",
        "error_code": "dcs.09.9999\nforged",
    }
    payload = {
        "instance_id": "i-1",
        "project_id": "p-1",
        "window": {"begin": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
        "total": 3,
        "records": [record, {**record, "restore_id": "r-2", "status": "restoring", "updated_at": None}],
        "records_included": "all",
        "counts": {"waiting": 0, "restoring": 1, "succeed": 0, "failed": 1},
        "invalid_records": [{"index": 2, "restore_id": None, "reason": "status: bad\nline"}],
        "invalid_records_omitted": 4,
        "truncated": True,
        "forwarded": {"queued": 1, "already_forwarded": 0},
        "restore": record,
    }
    return RestorePayload.model_validate({**payload, **changes})


def test_the_table_keeps_text_from_dcs_on_its_line_and_says_what_was_left_out() -> None:
    lines = payload_table(payload_with())
    # A row a record, durations read as a person would, unfinished ones without one, DCS's text escaped
    assert re.split(r"\s{2,}", lines[1]) == [
        "failed",
        "2024-01-01 00:00:00",
        "2024-01-01 01:02:03",
        "1h02m03s",
        "r-1\\x1b[31m",
        "dcs.09.9999\\x0aforged: Unknown DCS restore error code.",
    ]
    assert re.split(r"\s{2,}", lines[2]) == [
        "restoring",
        "2024-01-01 00:00:00",
        "-",
        "-",
        "r-2",
        "dcs.09.9999\\x0aforged: Unknown DCS restore error code.",
    ]
    # And below, what the counts, the invalid records, the cap and the followed restore say
    summary = lines[lines.index("") + 1 :]
    assert "invalid records: 5" in summary
    assert "  #2 -: status: bad\\x0aline" in summary
    assert "TRUNCATED: the window holds more records than MAX_RECORDS; the rest were not read" in summary
    assert "followed restore r-1\\x1b[31m: failed" in summary
    assert all("\n" not in line and "\x1b" not in line for line in lines)


def test_an_empty_payload_says_so() -> None:
    lines = payload_table(payload_with(records=[], invalid_records=[], invalid_records_omitted=0, truncated=False))
    assert lines[0] == "(no records in the payload)"


@pytest.mark.parametrize(("seconds", "shown"), [(0.4, "0s"), (59, "59s"), (60, "1m00s"), (3599, "59m59s")])
def test_durations_read_as_a_person_would(seconds: float, shown: str) -> None:
    record = payload_with().records[0]
    assert record.created_at is not None
    ended = record.model_copy(update={"updated_at": record.created_at + timedelta(seconds=seconds)})
    lines = payload_table(payload_with(records=[ended.model_dump()]))
    assert re.split(r"\s{2,}", lines[1])[3] == shown


def test_the_progress_line_is_rewritten_in_place_no_more_often_than_asked() -> None:
    # Given a progress line on a stream, and a clock that moves only when told
    stream = io.StringIO()
    now = [0.0]
    line = ProgressLine(stream, interval=0.1, clock=lambda: now[0])
    # When pages arrive: one page in all says nothing; then 1/4 is shown, 2/4 at once is not, 3/4 later is
    line(1, 1)
    line(1, 4)
    line(2, 4)
    now[0] = 0.5
    line(3, 4)
    line(4, 4)  # the last is always shown, then erased
    assert (
        stream.getvalue()
        == "".join(f"{CLEAR}dcs-restore-watch: reading DCS pages {done}/4" for done in (1, 3, 4)) + CLEAR
    )
    line.clear()  # nothing shown: nothing to erase
    assert stream.getvalue().endswith(f"4/4{CLEAR}")
