"""Fitting a payload into what its caller can receive.

Lambda returns at most 6 MB and a Step Functions state holds 256 KB, while a busy window can
hold 10,000 records. A payload that does not fit would fail the invocation after its failed
restores were forwarded, and fail again on every retry. So a payload gives up detail instead:
first the records that did not fail, then all records, and last the invalid records beyond
those that fit. Its counts, totals and forwarding outcome always stay, and it says what it left out.

Sizes are counted as the encoder will write them (non-ASCII text as its longer escape, never
less), a thousand items at a time, and stop at the limit: a 100,000-record window is never
encoded whole just to learn that it is too large.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, TypeAdapter

from dcs_restores import InvalidRecord, RestoreRecord

from .payload import RecordSelection, RestorePayload

_Item = TypeVar("_Item", bound=BaseModel)

LAMBDA_RESPONSE_LIMIT = 6_291_456  # bytes Lambda returns from a synchronous invoke
DEFAULT_MAX_RESPONSE_BYTES = 6_000_000  # below Lambda's limit, with some to spare
HTTP_ENVELOPE_BYTES = 1_024  # statusCode, headers, cookies around an HTTP body: 119 bytes as Powertools writes them
CHUNK = 1_000  # items encoded at once while counting
# The lowest limit a setting or an event may set: a payload without its lists is under 1 KB, so
# even this leaves room for a hundred records or more.
MIN_RESPONSE_BYTES = 65_536
ResponseBytes = Annotated[int, Field(ge=MIN_RESPONSE_BYTES, le=LAMBDA_RESPONSE_LIMIT)]
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
