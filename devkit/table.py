"""``dcs-restore-watch invoke --output table``: a payload as a table of its records and its counts, for people.

Every text that came from DCS is printed through ``printable``: one line each, no terminal codes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dcs_restores import RestoreRecord
from restore_watch.payload import RecordSelection, RestorePayload

from .local import printable

COLUMNS = ("STATUS", "CREATED (UTC)", "UPDATED (UTC)", "DURATION", "RESTORE ID", "ERROR")


def payload_table(payload: RestorePayload) -> list[str]:
    """The lines of the table: a header, a row a record (newest first, as DCS lists them), then what it adds up to."""
    rows = [_row(record) for record in payload.records]
    widths = [max(len(cell) for cell in column) for column in zip(COLUMNS, *rows, strict=True)]
    widths[-1] = 0  # the last column is not padded
    lines = [_line(row, widths) for row in (COLUMNS, *rows)] if rows else ["(no records in the payload)"]
    return [*lines, "", *_summary(payload)]


def _row(record: RestoreRecord) -> tuple[str, ...]:
    error = ": ".join(text for text in (record.error_code, record.error_message) if text)
    return (
        record.status.value,
        _time(record.created_at),
        _time(record.updated_at),
        _duration(record.duration_seconds),
        printable(record.restore_id),
        printable(error),
    )


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, second = divmod(round(seconds), 60)
    hours, minute = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minute:02d}m{second:02d}s"
    return f"{minute}m{second:02d}s" if minute else f"{second}s"


def _summary(payload: RestorePayload) -> list[str]:
    counts = ", ".join(f"{status.value} {count}" for status, count in payload.counts.items())
    window = f"{_time(payload.window.begin)} to {_time(payload.window.end)} UTC"
    lines = [
        f"instance {printable(payload.instance_id)}, project {printable(payload.project_id)}, {window}",
        f"records: {sum(payload.counts.values())} ({counts}); DCS's total: {payload.total}",
    ]
    if payload.records_included is not RecordSelection.ALL:
        lines.append(f"records shown: {payload.records_included.value} (the counts cover them all)")
    invalid = len(payload.invalid_records) + payload.invalid_records_omitted
    if invalid:
        lines.append(f"invalid records: {invalid}")
        lines.extend(
            f"  #{record.index} {printable(record.restore_id or '-')}: {printable(record.reason)}"
            for record in payload.invalid_records
        )
    if payload.truncated:
        lines.append("TRUNCATED: the window holds more records than MAX_RECORDS; the rest were not read")
    if payload.restore is not None:
        lines.append(f"followed restore {printable(payload.restore.restore_id)}: {payload.restore.status.value}")
    lines.append(
        f"failed restores queued {payload.forwarded.queued}, already forwarded {payload.forwarded.already_forwarded}"
    )
    return lines
