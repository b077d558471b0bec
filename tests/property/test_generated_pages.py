"""Generated DCS bodies, good and drifted records mixed: a page never fails because of a record,
and exactly the records the contract calls valid are accepted.

The oracle below decides each record on its own, from the vendor contract
(../shared/reference/dcs-restores-api.md) and the leniency the model documents
(``dcs_restores.models``): ``{}``, ``null``, ``""`` or a missing field mean "no value", unknown
fields are ignored, a time without a zone is read as UTC, ``progress`` is a number 0-100 sent as a
decimal string (or as a JSON number). Nothing of the model's code is reused.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dcs_restores.models import RESTORES
from devkit.seed import VENDOR_EXAMPLE, generate_records, vendor_time

GOOD = generate_records(50)
FIELDS = [name for name in GOOD[0] if name != "restore_id"]
junk = st.one_of(
    st.none(),
    st.just({}),
    st.just(""),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
drifted = st.builds(
    lambda base, changes, drop: {name: value for name, value in {**base, **changes}.items() if name not in drop},
    st.sampled_from(GOOD),
    st.dictionaries(st.sampled_from([*FIELDS, "restore_id", "unknown_field"]), junk, max_size=4),
    st.sets(st.sampled_from([*FIELDS, "restore_id"]), max_size=2),
)
# A good record with one field in DCS's own format, near the edge of what is valid
progress_text = st.one_of(
    st.sampled_from(["0.00", "0.01", "99.99", "100.00", "100.01", "150.00", "999.99", "-0.01", "-1.00"]),
    st.integers(min_value=-1000, max_value=20000).map(lambda hundredths: f"{hundredths / 100:.2f}"),
)
vendor_times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
edged = st.builds(
    lambda base, change: {**base, **change},
    st.sampled_from(GOOD),
    st.one_of(
        st.builds(lambda value: {"progress": value}, progress_text),
        st.builds(
            lambda name, moment: {name: vendor_time(moment)},
            st.sampled_from(["created_at", "updated_at"]),
            vendor_times,
        ),
        st.builds(
            lambda name, moment: {name: moment.strftime("%Y/%m/%d %H:%M:%S")},
            st.sampled_from(["created_at", "updated_at"]),
            vendor_times,
        ),
        st.builds(
            lambda value: {"status": value},
            st.sampled_from(["waiting", "restoring", "succeed", "failed", "success", "FAILED", "failed "]),
        ),
    ),
)
records = st.lists(st.one_of(st.sampled_from(GOOD), drifted, edged, junk), max_size=40)


# -- the oracle --


class Verdict(Enum):
    VALID = "valid"  # the contract (with the documented leniency) accepts it: it must be accepted
    INVALID = "invalid"  # the contract refuses it: it must be reported invalid, at its index
    LENIENT = "lenient"  # only forms outside the contract that the model may read either way (see below)


STATUSES = frozenset({"waiting", "restoring", "succeed", "failed"})
TEXT_FIELDS = ("backup_id", "backup_name", "restore_name", "restore_remark", "backup_remark", "error_code")
TIME_FIELDS = ("created_at", "updated_at")
# ISO 8601 as DCS sends it ("2017-07-18T21:41:20.721Z"), the zone optional (read as UTC).
ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?")
DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")  # "100.00", as DCS sends progress
# Outside the contract, and read by the model in its own way rather than refused (reported to the
# lead; until the model decides, the oracle does not): a JSON number or a string of digits where a
# time is due (read as Unix time), a boolean or a loosely written number where progress is due.
UNIX_TIME_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?")


def no_value(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, dict) and not value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def time_verdict(value: Any) -> Verdict:
    if no_value(value):
        return Verdict.VALID
    if isinstance(value, str) and ISO_TIME.fullmatch(value):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return Verdict.INVALID  # ISO in shape only: month 13, hour 25...
        return Verdict.VALID
    if is_number(value) or (isinstance(value, str) and UNIX_TIME_TEXT.fullmatch(value)):
        return Verdict.LENIENT
    return Verdict.INVALID


def loose_number(text: str) -> float | None:
    """What ``float()`` reads from ASCII text ("1e2", " 5", "1_0"), else None."""
    if not text.isascii():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def progress_verdict(value: Any) -> Verdict:
    if no_value(value):
        return Verdict.VALID
    if isinstance(value, str) and DECIMAL.fullmatch(value):
        return Verdict.VALID if float(value) <= 100 else Verdict.INVALID
    if is_number(value):
        return Verdict.VALID if math.isfinite(value) and 0 <= value <= 100 else Verdict.INVALID
    loose = float(value) if isinstance(value, bool) else loose_number(value) if isinstance(value, str) else None
    if loose is not None and math.isfinite(loose) and 0 <= loose <= 100:
        return Verdict.LENIENT
    return Verdict.INVALID


def verdict(item: Any) -> Verdict:
    """Whether DCS sent a valid restore record, decided from the contract alone."""
    if not isinstance(item, dict):
        return Verdict.INVALID
    restore_id, status = item.get("restore_id"), item.get("status")
    if not (isinstance(restore_id, str) and restore_id) or not (isinstance(status, str) and status in STATUSES):
        return Verdict.INVALID
    verdicts = [
        Verdict.VALID if no_value(item.get(name)) or isinstance(item.get(name), str) else Verdict.INVALID
        for name in TEXT_FIELDS
    ]
    verdicts += [time_verdict(item.get(name)) for name in TIME_FIELDS]
    verdicts.append(progress_verdict(item.get("progress")))
    if Verdict.INVALID in verdicts:
        return Verdict.INVALID
    return Verdict.LENIENT if Verdict.LENIENT in verdicts else Verdict.VALID


def test_the_oracle_reads_the_contract() -> None:
    # The vendor's own example and every seeded record are valid; each kind of drift is not
    example = json.loads(VENDOR_EXAMPLE.read_text())["restore_record_response"][0]
    assert all(verdict(record) is Verdict.VALID for record in [example, *GOOD])
    good = GOOD[4]
    for drift in (
        {"status": "exploded"},
        {"status": "Failed"},
        {"restore_id": ""},
        {"restore_id": 7},
        {"progress": "150"},
        {"progress": "100.01"},
        {"progress": "-1"},
        {"progress": "1e3"},
        {"progress": ["100"]},
        {"created_at": "yesterday"},
        {"updated_at": "2024-13-45T99:99:99Z"},
        {"error_code": ["dcs.08.0001"]},
        {"backup_name": 3},
        {"restore_name": {"a": 1}},
    ):
        assert verdict({**good, **drift}) is Verdict.INVALID, drift
    for missing in ("restore_id", "status"):
        assert verdict({name: value for name, value in good.items() if name != missing}) is Verdict.INVALID
    documented: list[dict[str, Any]] = [
        {"progress": 50},
        {"progress": "100.00"},
        {"backup_remark": {}, "error_code": "", "created_at": None, "surprise": 1},
    ]
    for fields in documented:
        assert verdict({**good, **fields}) is Verdict.VALID, fields
    for fields in ({"progress": True}, {"progress": "1e2"}, {"created_at": 1700000000}, {"updated_at": "20240101"}):
        assert verdict({**good, **fields}) is Verdict.LENIENT, fields
    assert verdict({**good, "created_at": "2024-01-01T00:00:00"}) is Verdict.VALID  # no zone: UTC
    assert verdict(None) is verdict([]) is verdict("x") is verdict({}) is Verdict.INVALID


@settings(max_examples=400, deadline=None)
@given(items=records, offset=st.integers(min_value=0, max_value=10**6))
def test_a_page_never_fails_for_a_record_and_every_record_is_counted(items: list[Any], offset: int) -> None:
    body = json.dumps({"restore_record_response": items, "total_num": len(items)}).encode()
    page = RESTORES.pages.parse(body, offset)
    # Every element is either a valid record or a reported invalid one, at its place in the window
    assert len(page.items) + len(page.invalid) == len(items)
    assert all(offset <= invalid.index < offset + len(items) for invalid in page.invalid)
    assert len({invalid.index for invalid in page.invalid}) == len(page.invalid)
    assert all(invalid.reason for invalid in page.invalid)
    # Exactly the records the oracle calls valid are accepted, and those it calls invalid reported
    verdicts = [verdict(item) for item in items]
    reported = {invalid.index - offset for invalid in page.invalid}
    accepted = [index for index in range(len(items)) if index not in reported]
    assert {index for index, seen in enumerate(verdicts) if seen is Verdict.VALID} <= set(accepted)
    assert {index for index, seen in enumerate(verdicts) if seen is Verdict.INVALID} <= reported
    # The records accepted are those items, in their order, with their own ID and status
    assert [(record.restore_id, record.status.value) for record in page.items] == [
        (items[index]["restore_id"], items[index]["status"]) for index in accepted
    ]
    # Each report names the record's own ID when it has a usable one
    for invalid in page.invalid:
        item = items[invalid.index - offset]
        restore_id = item.get("restore_id") if isinstance(item, dict) else None
        assert invalid.restore_id == (restore_id if isinstance(restore_id, str) and restore_id else None)
    # And what is valid serialises to the normalised shape
    for record in page.items:
        dumped = record.model_dump(mode="json")
        assert dumped["restore_id"]
        assert dumped["progress"] is None or 0 <= dumped["progress"] <= 100
