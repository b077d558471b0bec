"""Fitting payloads to a response size: never over the limit, and never less than fits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from restore_watch import shaping
from restore_watch.limits import MIN_RESPONSE_BYTES
from restore_watch.payload import RecordSelection, RestorePayload
from restore_watch.shaping import (
    HTTP_BODY,
    HTTP_ENVELOPE_BYTES,
    LAMBDA_RESULT,
    Encoding,
    ResponseLimit,
    fit,
)

from ..support import lambda_bytes

# When invalid records are cut, fit() counts their omitted count at its longest: a few bytes to spare
OMITTED_SLACK = 8
ID = "a" * 64
AS_JSON: TypeAdapter[list[Any]] = TypeAdapter(list[Any])


def http_response_bytes(payload: Any) -> int:
    """The response as Powertools 3 answers an HTTP API request (the integration tests measure the real one)."""
    body = json.dumps(payload, separators=(",", ":"))
    headers = {"Content-Type": "application/json"}
    return lambda_bytes({"statusCode": 200, "body": body, "isBase64Encoded": False, "headers": headers, "cookies": []})


def counted(payload: RestorePayload, encoding: Encoding) -> int:
    """fit's own count, ASCII-escaped (an upper bound of the UTF-8 bytes)."""
    return counted_json(payload.to_json(), encoding)


def counted_json(payload: Any, encoding: Encoding) -> int:
    if encoding is LAMBDA_RESULT:
        return len(json.dumps(payload))
    return len(json.dumps(json.dumps(payload, separators=(",", ":")))) + HTTP_ENVELOPE_BYTES


texts = st.text(max_size=60)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
moments = st.datetimes(min_value=datetime(1970, 1, 2), timezones=offsets).map(datetime.isoformat)
records = st.fixed_dictionaries(
    {
        "restore_id": st.uuids().map(str),
        "status": st.sampled_from(["waiting", "restoring", "succeed", "failed"]),
        "restore_remark": st.none() | texts,
        "progress": st.none() | st.floats(0, 100),
    },
    optional={"created_at": moments, "updated_at": moments, "error_code": texts},
)
invalid_records = st.fixed_dictionaries(
    {"index": st.integers(0, 10**6), "restore_id": st.none() | texts, "reason": texts}
)


def payload_of(records: list[dict[str, Any]], invalid: list[dict[str, Any]]) -> RestorePayload:
    return RestorePayload.model_validate(payload_json(records, invalid))


def payload_json(records: list[dict[str, Any]], invalid: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {status: sum(record["status"] == status for record in records) for status in ("waiting", "failed")}
    return {
        "instance_id": ID,
        "project_id": ID,
        "window": {"begin": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
        "total": len(records) + len(invalid),
        "records": records,
        "records_included": "all",
        "counts": counts,
        "invalid_records": invalid,
        "invalid_records_omitted": 0,
        "truncated": False,
        "forwarded": {"queued": counts["failed"], "already_forwarded": 0},
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(records, max_size=60),
    invalid=st.lists(invalid_records, max_size=30),
    requested=st.sampled_from(list(RecordSelection)),
    max_bytes=st.integers(2_000, 12_000),  # the frame alone is about 700 bytes
    encoding=st.sampled_from([LAMBDA_RESULT, HTTP_BODY]),
    chunk=st.sampled_from([1, 2, 7, shaping.CHUNK]),
)
def test_a_fitted_payload_is_within_the_limit_and_keeps_all_that_fits(
    records: list[dict[str, Any]],
    invalid: list[dict[str, Any]],
    requested: RecordSelection,
    max_bytes: int,
    encoding: Encoding,
    chunk: int,
) -> None:
    payload = payload_of(records, invalid)
    answer = fit(payload, ResponseLimit(requested, max_bytes), encoding, chunk=chunk)  # lists cross chunks
    fitted = answer.payload
    # The records encoded while counting are the records the model holds
    assert answer.to_json() == fitted.to_json()

    # Within the limit, as the runtime will encode it
    measure = lambda_bytes if encoding is LAMBDA_RESULT else http_response_bytes
    assert measure(fitted.to_json()) <= max_bytes
    # Only the lists change, and they say what they left out
    lists = {"records", "records_included", "invalid_records", "invalid_records_omitted"}
    assert fitted.model_dump(exclude=lists) == payload.model_dump(exclude=lists)
    included = fitted.records_included
    order = list(RecordSelection)
    assert order.index(included) >= order.index(requested)
    expected = {
        RecordSelection.ALL: payload.records,
        RecordSelection.FAILED: [record for record in payload.records if record.status == "failed"],
        RecordSelection.NONE: [],
    }[included]
    assert fitted.records == expected
    kept = len(fitted.invalid_records)
    assert fitted.invalid_records == payload.invalid_records[:kept]
    assert fitted.invalid_records_omitted == len(invalid) - kept
    # Nothing was left out that would have fitted
    if kept < len(invalid):  # invalid records come first: none of the others fitted either
        assert fitted.records == []
        with_more = fitted.model_copy(update={"invalid_records": payload.invalid_records[: kept + 1]})
        assert counted(with_more, encoding) > max_bytes - OMITTED_SLACK
    elif included is not requested:  # counted exactly: one level richer would have passed the limit
        richer = order[order.index(included) - 1]
        with_more = fitted.model_copy(update={"records": richer.select(payload.records), "records_included": richer})
        assert counted(with_more, encoding) > max_bytes


@pytest.mark.parametrize("chunk", [1, 7, shaping.CHUNK])
@pytest.mark.parametrize(("encoding", "measure"), [(LAMBDA_RESULT, lambda_bytes), (HTTP_BODY, http_response_bytes)])
def test_a_payload_is_whole_up_to_the_last_byte_of_the_limit(encoding: Encoding, measure: Any, chunk: int) -> None:
    records = [{"restore_id": f"r{n}", "status": "failed" if n % 2 else "succeed"} for n in range(50)]
    payload = payload_of(records, [{"index": 7, "restore_id": "x", "reason": 'status: "bad" \\ value'}])
    assert measure(payload.to_json()) <= counted(payload, encoding)
    assert fit(payload, ResponseLimit(max_bytes=counted(payload, encoding)), encoding, chunk=chunk).payload == payload
    reduced = fit(payload, ResponseLimit(max_bytes=counted(payload, encoding) - 1), encoding, chunk=chunk).payload
    assert reduced.records_included == "failed"
    assert reduced.invalid_records == payload.invalid_records


def test_the_failed_records_stay_when_all_of_them_do_not_fit() -> None:
    records = [{"restore_id": f"r{n}", "status": "failed" if n % 10 == 0 else "succeed"} for n in range(400)]
    payload = payload_of(records, [])
    fitted = fit(payload, ResponseLimit(max_bytes=lambda_bytes(payload.to_json()) - 1), LAMBDA_RESULT).payload
    assert fitted.records_included == "failed"
    assert [record.restore_id for record in fitted.records] == [f"r{n}" for n in range(0, 400, 10)]


def test_non_ascii_text_is_never_undercounted() -> None:
    # The python3.13 runtime writes UTF-8 unescaped: "é" is 2 bytes there and 6 as "\u00e9" here.
    records = [{"restore_id": "r", "status": "succeed", "restore_remark": "é" * 1000}] * 20
    payload = payload_of(records, [])
    fitted = fit(payload, ResponseLimit(max_bytes=lambda_bytes(payload.to_json())), LAMBDA_RESULT).payload
    # counted conservatively (40 kB in UTF-8, 120 kB as counted), so only the failed ones stay: none here
    assert (fitted.records_included, fitted.records) == ("failed", [])
    assert lambda_bytes(fitted.to_json()) <= lambda_bytes(payload.to_json())


@pytest.mark.parametrize("encoding", [LAMBDA_RESULT, HTTP_BODY])
def test_the_smallest_limit_holds_the_largest_frame_with_room_for_records(encoding: Encoding) -> None:
    # The worst frame: longest IDs, counts and totals at the limits; fit() can always return it.
    big = 10**9
    frame = payload_json([], [])
    frame.update(
        total=big,
        counts=dict.fromkeys(("waiting", "restoring", "succeed", "failed"), big),
        forwarded={"queued": big, "already_forwarded": big},
        records_included="failed",
        invalid_records_omitted=big,
        truncated=True,
    )
    assert counted_json(frame, encoding) < 2_048  # the frame is small: the rest of the limit is for records
    # fit() can return it at the smallest limit, and a hundred records of the usual 460 bytes fit beside it
    limit = ResponseLimit(RecordSelection.FAILED, MIN_RESPONSE_BYTES)
    assert counted(fit(RestorePayload.model_validate(frame), limit, encoding).payload, encoding) <= MIN_RESPONSE_BYTES
    record = {"restore_id": ID, "status": "failed", "restore_remark": "r" * 90, "error_code": "dcs.08.0004"}
    assert len(json.dumps(payload_of([record], []).to_json()["records"][0])) == 460
    with_records = RestorePayload.model_validate({**frame, "records": [record] * 100})
    fitted = fit(with_records, limit, encoding).payload
    assert (fitted.records_included, len(fitted.records)) == (RecordSelection.FAILED, 100)


def test_invalid_records_beyond_the_windows_cap_stay_counted_as_omitted_through_fitting() -> None:
    # Given a payload built from a window that kept 3 of its 8 invalid records
    invalid = [{"index": n, "restore_id": f"x{n}", "reason": "status: bad"} for n in range(3)]
    payload = payload_of([{"restore_id": "r", "status": "failed"}], invalid).model_copy(
        update={"invalid_records_omitted": 5}
    )
    # When it is fitted with room to spare, Then the 5 stay omitted; with room for one invalid record, 7 are
    assert fit(payload, ResponseLimit(), LAMBDA_RESULT).payload.invalid_records_omitted == 5
    frame = counted(payload.reduced_to(RecordSelection.NONE, [], [], 8), LAMBDA_RESULT)
    one = len(json.dumps(invalid[0]))
    tight = fit(payload, ResponseLimit(max_bytes=frame + one + 2), LAMBDA_RESULT).payload
    assert (len(tight.invalid_records), tight.invalid_records_omitted) == (1, 7)


WIDE = "\U0001f5c4"  # one character: 4 bytes in UTF-8, 12 as the escaped pair that fit() counts
FREE_TEXT = ("restore_name", "backup_id", "backup_name", "restore_remark", "backup_remark", "error_code")


def following(restore_texts: dict[str, str], records: int = 20) -> RestorePayload:
    """A payload following restore "r" (failed, carrying ``restore_texts``) and the other records of its window."""
    restore = {"restore_id": "r", "status": "failed", "created_at": "2024-01-01T01:00:00Z", **restore_texts}
    others = [{"restore_id": f"o{n}", "status": "succeed", "restore_remark": "x" * 500} for n in range(records)]
    invalid = [{"index": 3, "restore_id": "bad", "reason": "status: bad"}]
    return RestorePayload.model_validate({**payload_json([restore, *others], invalid), "restore": restore})


@pytest.mark.parametrize(("encoding", "measure"), [(LAMBDA_RESULT, lambda_bytes), (HTTP_BODY, http_response_bytes)])
@pytest.mark.parametrize(
    "texts",
    [{"restore_remark": "r" * 1_100_000}, {"error_code": WIDE * 75_000}, {"backup_name": '"\\' * 50_000}],
    ids=["a remark of 1.1 MB", "an error code of 300 kB in UTF-8", "quotes and backslashes"],
)
def test_a_followed_restore_too_large_for_the_answer_is_cut_and_says_what_was_cut(
    encoding: Encoding, measure: Any, texts: dict[str, str]
) -> None:
    # Given a workflow's smallest limit and a followed restore that alone would pass it
    payload = following(texts)
    assert counted(payload.model_copy(update={"records": [], "invalid_records": []}), encoding) > MIN_RESPONSE_BYTES

    # When the payload is fitted
    fitted = fit(payload, ResponseLimit(RecordSelection.NONE, MIN_RESPONSE_BYTES), encoding).payload

    # Then the answer is within the limit, in either encoding the runtime may send, with the restore kept
    assert measure(fitted.to_json()) <= counted(fitted, encoding) <= MIN_RESPONSE_BYTES
    assert fitted.restore is not None
    assert payload.restore is not None
    [field] = texts
    assert fitted.restore.cut_fields == [field]
    kept = getattr(fitted.restore, field)
    assert texts[field].startswith(kept)
    assert shaping.RESTORE_CUT_TO - 14 < encoding.size(kept) <= shaping.RESTORE_CUT_TO  # cut by weight, not length
    uncut = fitted.restore.model_dump(exclude={field, "cut_fields"})
    assert uncut == payload.restore.model_dump(exclude={field, "cut_fields"})
    # And the records went first: only then was the restore cut
    assert (fitted.records_included, fitted.records) == (RecordSelection.NONE, [])


@pytest.mark.parametrize("encoding", [LAMBDA_RESULT, HTTP_BODY])
def test_a_followed_restore_that_fits_alone_is_never_cut_and_the_lists_give_way(encoding: Encoding) -> None:
    # Given a restore of 20 kB (in its place among the records, and as the followed one) beside 54 kB of others
    payload = following({"restore_remark": "r" * 20_000}, records=100)
    assert counted(payload, encoding) > MIN_RESPONSE_BYTES
    fitted = fit(payload, ResponseLimit(max_bytes=MIN_RESPONSE_BYTES), encoding).payload
    # Then the records that did not fail are left out, and the restore stays whole
    assert fitted.restore == payload.restore
    assert (fitted.records_included, [record.restore_id for record in fitted.records]) == ("failed", ["r"])
    assert counted(fitted, encoding) <= MIN_RESPONSE_BYTES


@pytest.mark.parametrize("encoding", [LAMBDA_RESULT, HTTP_BODY])
def test_the_smallest_limit_holds_the_largest_frame_and_a_restore_with_every_free_text_cut(encoding: Encoding) -> None:
    # Given the largest frame, and a restore whose every free-text field is as wide as text can be
    big = 10**9
    frame = {
        **payload_json([], []),
        "total": big,
        "counts": dict.fromkeys(("waiting", "restoring", "succeed", "failed"), big),
        "forwarded": {"queued": big, "already_forwarded": big},
        "invalid_records_omitted": big,
        "truncated": True,
    }
    texts = dict.fromkeys(FREE_TEXT, WIDE * 20_000)
    restore = {"restore_id": ID, "status": "failed", "progress": 99.99, **texts}
    times = {"created_at": "2024-01-01T00:00:00.123456+14:00", "updated_at": "9998-12-31T23:59:59.999999Z"}
    payload = RestorePayload.model_validate({**frame, "restore": {**restore, **times}})

    # When it is fitted to the smallest limit an event may set
    fitted = fit(payload, ResponseLimit(max_bytes=MIN_RESPONSE_BYTES), encoding).payload

    # Then the restore fits, every free-text field cut
    assert counted(fitted, encoding) <= MIN_RESPONSE_BYTES
    assert fitted.restore is not None
    assert fitted.restore.cut_fields == sorted(FREE_TEXT)
