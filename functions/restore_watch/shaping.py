"""Fitting a payload into what its caller can receive.

Lambda returns at most 6 MB and a Step Functions state holds 256 KB, while a busy window can
hold 10,000 records. A payload that does not fit would fail the invocation after its failed
restores were forwarded, and fail again on every retry. So a payload gives up detail instead:
first the records that did not fail, then all records, and last the invalid records beyond
those that fit. Its counts, totals and forwarding outcome always stay, and it says what it left out.
The followed restore (``restore``) always stays too: when it alone would pass the limit, its
longest free-text fields are cut, one at a time, and its ``cut_fields`` names them.

Sizes are counted as the encoder will write them (non-ASCII text as its longer escape, never
less), a thousand items at a time, and stop at the limit: a 100,000-record window is never
encoded whole just to learn that it is too large.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from dcs_restores import InvalidRecord, RestoreRecord

from .forwarding.failed_restore import FREE_TEXT
from .limits import DEFAULT_MAX_RESPONSE_BYTES
from .payload import RecordSelection, RestorePayload

_Item = TypeVar("_Item", bound=BaseModel)

HTTP_ENVELOPE_BYTES = 1_024  # statusCode, headers, cookies around an HTTP body: 119 bytes as Powertools writes them
CHUNK = 1_000  # items encoded at once while counting
# What a cut free-text field of the followed restore keeps, in bytes as counted: its six fields cut
# and the largest frame stay under limits.MIN_RESPONSE_BYTES, so the restore is always kept.
RESTORE_CUT_TO = 8_192
# Each list as the payload's JSON holds it (computed fields too); typed, twice as fast as inferring.
_RECORDS = TypeAdapter(list[RestoreRecord])
_INVALID_RECORDS = TypeAdapter(list[InvalidRecord])


@dataclass(frozen=True)
class ResponseLimit:
    records: RecordSelection = RecordSelection.ALL
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


@dataclass(frozen=True)
class Encoding:
    """How one JSON value's bytes are counted, and what separates the items of a list."""

    size: Callable[[Any], int]
    item_separator: int
    framing: int = 0  # bytes around the whole payload: an HTTP body's quotes and the response around it


def _escaped_compact_size(value: Any) -> int:
    # Powertools writes the body compactly (ASCII only); Lambda's JSON then escapes its quotes and backslashes.
    text = json.dumps(value, separators=(",", ":"))
    return len(text) + text.count('"') + text.count("\\")


LAMBDA_RESULT = Encoding(size=lambda value: len(json.dumps(value)), item_separator=len(", "))
HTTP_BODY = Encoding(size=_escaped_compact_size, item_separator=len(","), framing=len('""') + HTTP_ENVELOPE_BYTES)


@dataclass(frozen=True)
class Fitted:
    """A fitted payload, with its records as they were encoded while being counted."""

    payload: RestorePayload
    records_json: list[Any]

    def to_json(self) -> dict[str, Any]:
        """The payload as Lambda and the HTTP API return it; its records are not encoded twice."""
        return self.payload.to_json(records=self.records_json)


def fit(payload: RestorePayload, limit: ResponseLimit, encoding: Encoding, *, chunk: int = CHUNK) -> Fitted:
    """``payload`` (whole, from the use case) with as much of its lists as ``limit`` allows.

    ``chunk``: how many items are encoded at once while counting.
    """
    payload = _restore_within(payload, limit.max_bytes, encoding)
    invalid = payload.invalid_records
    counted_invalid = _encoded_within(invalid, _INVALID_RECORDS, limit.max_bytes, encoding, chunk)
    if counted_invalid is not None:  # the usual case: the invalid records are few, and all of them stay
        invalid_bytes, _ = counted_invalid
        selections = list(RecordSelection)
        for selection in selections[selections.index(limit.records) :]:
            chosen = selection.select(payload.records)
            room = limit.max_bytes - _frame_bytes(payload, selection, payload.invalid_records_omitted, encoding)
            room -= invalid_bytes
            counted = _encoded_within(chosen, _RECORDS, room, encoding, chunk) if room >= 0 else None
            if counted is not None:
                return Fitted(payload.reduced_to(selection, chosen, invalid), counted[1])
    # Not even the invalid records fit: no records, and as many of those as there is room for.
    room = limit.max_bytes - _frame_bytes(
        payload, RecordSelection.NONE, payload.invalid_records_omitted + len(invalid), encoding
    )
    kept = _prefix_within(invalid, room, encoding)
    return Fitted(payload.reduced_to(RecordSelection.NONE, [], invalid[:kept]), [])


def _restore_within(payload: RestorePayload, max_bytes: int, encoding: Encoding) -> RestorePayload:
    """``payload`` with its followed restore cut until the smallest payload holding it fits ``max_bytes``.

    Like a failed restore's SQS message: the longest free-text field is cut first, to
    ``RESTORE_CUT_TO`` bytes as ``encoding`` counts them, then the next, until it fits. IDs,
    status and times are never cut.
    """
    restore = payload.restore
    if restore is None:
        return payload
    omitted = payload.invalid_records_omitted + len(payload.invalid_records)
    for field in sorted(FREE_TEXT, key=lambda name: encoding.size(getattr(restore, name)), reverse=True):
        text = getattr(restore, field)
        if encoding.size(text) <= RESTORE_CUT_TO:  # shorter ones are cut no further (None included)
            break
        if _frame_bytes(payload, RecordSelection.NONE, omitted, encoding) <= max_bytes:
            break
        kept = text[: _prefix_weighing(text, RESTORE_CUT_TO, encoding)]
        restore = restore.model_copy(update={field: kept, "cut_fields": sorted([*restore.cut_fields, field])})
        payload = payload.model_copy(update={"restore": restore})
    return payload


def _prefix_weighing(text: str, room: int, encoding: Encoding) -> int:
    """The length of the longest prefix of ``text`` that weighs at most ``room`` bytes as a JSON string."""
    low, high = 0, min(len(text), room)  # every character weighs a byte at least
    while low < high:
        middle = (low + high + 1) // 2
        if encoding.size(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _frame_bytes(payload: RestorePayload, selection: RecordSelection, omitted: int, encoding: Encoding) -> int:
    """The payload's bytes with both lists empty (an omitted count can only shrink from ``omitted``)."""
    frame = payload.reduced_to(selection, [], [], omitted)
    return encoding.size(frame.to_json()) + encoding.framing


def _encoded_within(
    items: list[_Item], adapter: TypeAdapter[list[_Item]], room: int, encoding: Encoding, chunk: int
) -> tuple[int, list[Any]] | None:
    """The bytes ``items`` add to an empty list and the items encoded, or None if that passes ``room``.

    Encoded a thousand at a time, and no further than the limit: a 100,000-record window is
    never encoded whole just to learn that it does not fit.
    """
    used = 0
    encoded: list[Any] = []
    for start in range(0, len(items), chunk):
        part = adapter.dump_python(items[start : start + chunk], mode="json")
        used += encoding.size(part) - len("[]") + (encoding.item_separator if start else 0)
        if used > room:
            return None
        encoded += part
    return used, encoded


def _prefix_within(items: Sequence[BaseModel], room: int, encoding: Encoding) -> int:
    """How many leading ``items`` fit in ``room`` bytes as list items, counted one by one."""
    used = 0
    for count, item in enumerate(items):
        used += encoding.size(item.model_dump(mode="json")) + (encoding.item_separator if count else 0)
        if used > room:
            return count
    return len(items)
