"""Generated hostile records: every answer fits its limit, and the followed restore is always in it.

Whatever DCS puts in a record (megabytes of remark, an error code of four-byte characters,
control characters, quotes and backslashes that double when escaped), the watch's answer is
within ``max_response_bytes`` both as the python3.13 runtime sends it (UTF-8) and as fit()
counts it (ASCII-escaped, never smaller), and the restore a workflow follows is kept: only its
free-text fields are cut, each to a prefix of what DCS sent, and ``cut_fields`` names them.
First fit() on its own over many examples, then the real handler over fewer, DCS being the
emulator and AWS moto.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_kind
from hypothesis import strategies as st

from dcs_restores import RestoreRecord
from devkit.emulator import Emulator
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler
from restore_watch.forwarding.failed_restore import FREE_TEXT
from restore_watch.limits import MIN_RESPONSE_BYTES
from restore_watch.payload import FollowedRestore, RecordSelection, RestorePayload
from restore_watch.shaping import (
    HTTP_BODY,
    HTTP_ENVELOPE_BYTES,
    LAMBDA_RESULT,
    RESTORE_CUT_TO,
    Encoding,
    ResponseLimit,
    fit,
)

from ..support import AwsResources, lambda_bytes

FOLLOWED = "followed-restore"
# Characters that weigh more as they travel than they count: escaped twice, six or twelve bytes each, or none
HOSTILE = ["a", '"', "\\", "\x00", "\x1f", "\x7f", "é", "中", "\u2028", "\U0001f5c4", "\ufeff", " "]
# Not a lone surrogate: no JSON DCS could send, the page would not parse. Not "{" by the ten thousand: the
# client counts braces before parsing (those in strings too) and refuses such a page by name, as not a page.
units = st.text(
    st.one_of(st.sampled_from(HOSTILE), st.characters(exclude_categories=["Cs"], exclude_characters="{")),
    min_size=1,
    max_size=2,
)
small_texts = st.none() | st.text(st.sampled_from(HOSTILE), max_size=40)
counts = st.one_of(st.integers(1, 60_000), st.sampled_from([5_500, 20_000, 60_000]))  # past the limit, often
huge_texts = st.builds(lambda unit, count: unit * count, units, counts)
times = st.integers(0, 8 * 24 * 60).map(
    lambda minutes: datetime(2024, 1, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
)


def texts(max_huge: int) -> st.SearchStrategy[dict[str, str | None]]:
    """Free-text fields, at most ``max_huge`` of them huge: a page must stay under MAX_PAGE_BYTES to be read."""
    return st.builds(
        lambda small, huge: {**small, **huge},
        st.fixed_dictionaries({}, optional=dict.fromkeys(FREE_TEXT, small_texts)),
        st.dictionaries(st.sampled_from(FREE_TEXT), huge_texts, max_size=max_huge),
    )


def vendor_record(restore_id: str, status: str, created: datetime, fields: dict[str, str | None]) -> dict[str, Any]:
    return {"restore_id": restore_id, "status": status, "created_at": created.isoformat(), **fields}


statuses = st.sampled_from(["waiting", "restoring", "succeed", "failed"])
followed_records = st.builds(vendor_record, st.just(FOLLOWED), statuses, times, texts(max_huge=2))
other_records = st.lists(st.builds(vendor_record, st.uuids().map(str), statuses, times, texts(max_huge=0)), max_size=5)
limits = st.one_of(st.just(MIN_RESPONSE_BYTES), st.integers(MIN_RESPONSE_BYTES, 400_000))


def http_response_bytes(payload: Any) -> int:
    """The HTTP API's response around the compact body, as the runtime sends it (UTF-8)."""
    body = json.dumps(payload, separators=(",", ":"))
    return lambda_bytes({"statusCode": 200, "body": body, "isBase64Encoded": False, "headers": {}, "cookies": []})


def within(answer: dict[str, Any], max_bytes: int, encoding: Encoding) -> None:
    """The answer fits in UTF-8 (what travels) and ASCII-escaped (what fit counts, never less)."""
    if encoding is LAMBDA_RESULT:
        assert lambda_bytes(answer) <= len(json.dumps(answer)) <= max_bytes
    else:
        escaped = len(json.dumps(json.dumps(answer, separators=(",", ":")))) + HTTP_ENVELOPE_BYTES
        assert http_response_bytes(answer) <= escaped <= max_bytes


def followed_as_cut(kept: FollowedRestore | dict[str, Any], sent: RestoreRecord, encoding: Encoding) -> None:
    """The restore kept is the one sent, but for the fields it names as cut: each a prefix, within its bound."""
    kept_json = kept if isinstance(kept, dict) else kept.model_dump(mode="json")
    sent_json = sent.model_dump(mode="json")
    cut = kept_json["cut_fields"]
    note_kind(f"{len(cut)} fields cut")  # --hypothesis-show-statistics
    assert cut == sorted(set(cut))
    assert set(cut) <= set(FREE_TEXT)
    for name, value in sent_json.items():
        if name not in cut:
            assert kept_json[name] == value, name
        else:
            assert value.startswith(kept_json[name])
            assert len(kept_json[name]) < len(value)
            assert encoding.size(kept_json[name]) <= RESTORE_CUT_TO


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    restore=followed_records,
    others=other_records,
    max_bytes=limits,
    requested=st.sampled_from(list(RecordSelection)),
    encoding=st.sampled_from([LAMBDA_RESULT, HTTP_BODY]),
)
def test_fit_keeps_every_answer_within_its_limit_and_the_followed_restore_in_it(
    restore: dict[str, Any],
    others: list[dict[str, Any]],
    max_bytes: int,
    requested: RecordSelection,
    encoding: Encoding,
) -> None:
    records = [RestoreRecord.model_validate(record) for record in [restore, *others]]
    counts = {status: sum(record.status == status for record in records) for status in ("waiting", "failed")}
    payload = RestorePayload.model_validate(
        {
            "instance_id": "i-1",
            "project_id": "p-1",
            "window": {"begin": "2024-01-01T00:00:00Z", "end": "2024-01-10T00:00:00Z"},
            "total": len(records),
            "records": [record.model_dump(mode="json") for record in records],
            "records_included": "all",
            "counts": counts,
            "invalid_records": [{"index": 9, "restore_id": None, "reason": "status: bad"}],
            "invalid_records_omitted": 0,
            "truncated": False,
            "forwarded": {"queued": counts["failed"], "already_forwarded": 0},
            "restore": FollowedRestore.of(records[0]).model_dump(mode="json"),
        }
    )

    fitted = fit(payload, ResponseLimit(requested, max_bytes), encoding).to_json()

    within(fitted, max_bytes, encoding)
    followed_as_cut(fitted["restore"], records[0], encoding)
    if fitted["restore"]["cut_fields"]:  # cut only when the restore, with no list beside it, passed the limit
        alone = payload.reduced_to(RecordSelection.NONE, [], [], 1)
        assert encoding.size(alone.to_json()) + encoding.framing > max_bytes


instance_numbers = itertools.count()


@pytest.mark.long
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(restore=followed_records, others=other_records, max_bytes=limits)
def test_a_workflow_s_watch_answers_within_its_limit_whatever_dcs_puts_in_a_record(
    restore: dict[str, Any],
    others: list[dict[str, Any]],
    max_bytes: int,
    function_env: dict[str, str],
    emulator: Emulator,
    aws: AwsResources,
) -> None:
    # Given an instance whose window holds the followed restore and others, as hostile as DCS may send them
    instance_id = f"i-{next(instance_numbers)}-{uuid.uuid4().hex[:8]}"
    emulator.add_records([restore, *others], instance_id=instance_id)
    event = {
        "instance_id": instance_id,
        "begin_time": "20240101000000",
        "end_time": "20240110000000",
        "restore_id": FOLLOWED,
        "records": "failed",
        "max_response_bytes": max_bytes,
    }

    # When a workflow's watch follows it
    answer = lambda_handler(event, LocalContext())

    # Then the answer fits its limit as it travels, and carries the restore, cut only where it says
    within(answer, max_bytes, LAMBDA_RESULT)
    RestorePayload.model_validate(answer)
    followed_as_cut(answer["restore"], RestoreRecord.model_validate(restore), LAMBDA_RESULT)
