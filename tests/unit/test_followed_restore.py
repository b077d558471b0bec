"""The payload's word on the one restore a request follows: its record, or why DCS's record of it is invalid."""

from __future__ import annotations

import json

from dcs_restores import InvalidRecord, RestoreRecord, RestoreResult
from devkit.seed import generate_records
from restore_watch.forwarding import Forwarded
from restore_watch.limits import MIN_RESPONSE_BYTES
from restore_watch.payload import FollowedRestore, RecordSelection, RestorePayload
from restore_watch.shaping import LAMBDA_RESULT, ResponseLimit, fit

from ..support import window_query

RECORDS = [RestoreRecord.model_validate(record) for record in generate_records(3, failed_every=0)]
FOLLOWED = "followed-restore"
CONTRADICTED = InvalidRecord(
    index=3, restore_id=FOLLOWED, reason="status: DCS reported this restore both succeed and failed"
)
NOTHING_FORWARDED = Forwarded(queued=0, already_forwarded=0)


def whole(records: list[RestoreRecord], invalid: list[InvalidRecord], restore_id: str | None) -> RestorePayload:
    result = RestoreResult.collect(records, invalid, total=len(records) + len(invalid), truncated=False)
    return RestorePayload.whole(window_query(), result, NOTHING_FORWARDED, restore_id)


def test_a_restore_listed_only_as_an_invalid_record_says_why() -> None:
    payload = whole(RECORDS, [CONTRADICTED], FOLLOWED)
    assert payload.restore is None
    assert payload.restore_invalid == CONTRADICTED.reason


def test_a_restore_with_a_valid_record_is_that_record_and_not_invalid() -> None:
    followed = RECORDS[1].restore_id
    stray = InvalidRecord(index=3, restore_id=followed, reason="created_at: Input should be a valid datetime")
    payload = whole(RECORDS, [stray], followed)
    assert payload.restore == FollowedRestore.of(RECORDS[1])
    assert payload.restore_invalid is None


def test_without_a_followed_restore_no_invalid_record_is_its() -> None:
    assert whole(RECORDS, [CONTRADICTED], None).restore_invalid is None
    assert whole(RECORDS, [CONTRADICTED], "another-restore").restore_invalid is None


def test_the_reason_is_kept_when_the_invalid_records_are_cut_to_fit() -> None:
    # Given a thousand invalid records ahead of the followed restore's: far more than 64 KiB of them
    others = [
        InvalidRecord(index=index, restore_id=f"garbled-{index}", reason="status: Input should be 'waiting'")
        for index in range(1_000)
    ]
    followed = CONTRADICTED.model_copy(update={"index": 1_000})
    payload = whole(RECORDS, [*others, followed], FOLLOWED)

    # When it is fitted to the smallest limit an event may set
    fitted = fit(payload, ResponseLimit(RecordSelection.NONE, MIN_RESPONSE_BYTES), LAMBDA_RESULT)

    # Then the list lost the followed restore's record, and the payload still says why it is invalid
    assert len(json.dumps(fitted.to_json())) <= MIN_RESPONSE_BYTES
    assert followed not in fitted.payload.invalid_records
    assert fitted.payload.invalid_records_omitted > 0
    assert fitted.to_json()["restore_invalid"] == CONTRADICTED.reason
