import json

import pytest

from dcs_restores import DcsInvalidResponseError, RestoreStatus
from dcs_restores.models import ERROR_MESSAGES, RESTORES, UNKNOWN_ERROR_MESSAGE
from devkit.seed import VENDOR_EXAMPLE, generate_records

parse_page = RESTORES.pages.parse


def body(*records: object, total: object = None) -> bytes:
    return json.dumps(
        {"restore_record_response": list(records), "total_num": len(records) if total is None else total}
    ).encode()


def record(**fields: object) -> dict[str, object]:
    return {"restore_id": "r-1", "status": "succeed", **fields}


def test_the_vendors_own_example_body() -> None:
    # Given the 200 body from the vendor's page, quirks and all
    page = parse_page(VENDOR_EXAMPLE.read_bytes(), 0)
    # Then it validates and normalises cleanly
    assert page.total == 1
    assert page.invalid == []
    normalised = page.items[0]
    assert normalised.model_dump(mode="json") == {
        "restore_id": "a6155972-800c-4170-a479-3231e907d2f6",
        "restore_name": "restore_20170718214120",
        "backup_id": "f4823e9e-fe9b-4ffd-be79-4e5d6de272bb",
        "backup_name": "backup_20170718000002",
        "status": "succeed",
        "progress": 100.0,
        "created_at": "2017-07-18T21:41:20.721000Z",
        "updated_at": "2017-07-18T21:41:35.182000Z",
        "duration_seconds": 14.461,
        "error_code": None,
        "error_message": None,
        "restore_remark": "doctest",
        "backup_remark": None,
    }


@pytest.mark.parametrize("empty", [{}, None, ""])
def test_empty_object_null_and_empty_string_read_as_no_value(empty: object) -> None:
    page = parse_page(body(record(error_code=empty, backup_remark=empty, progress=empty, updated_at=empty)), 0)
    info = page.items[0]
    assert (info.error_code, info.backup_remark, info.progress, info.updated_at) == (None, None, None, None)


def test_missing_fields_read_as_no_value_and_extra_fields_are_ignored() -> None:
    page = parse_page(body({"restore_id": "r-1", "status": "waiting", "brand_new_field": [1, 2]}), 0)
    assert page.items[0].backup_id is None
    assert not hasattr(page.items[0], "brand_new_field")


def test_progress_as_a_decimal_string_or_number_and_total_num_as_an_int() -> None:
    page = parse_page(body(record(progress="99.50"), record(restore_id="r-2", progress=7), total=2), 0)
    assert [info.progress for info in page.items] == [99.5, 7.0]
    assert page.total == 2


@pytest.mark.parametrize("total", [-5, "40", True, 2.5, "two"])
def test_total_num_must_be_a_count(total: object) -> None:
    # A page that says it holds -5 records, or "40", would steer the paging: the page is refused, by name
    with pytest.raises(DcsInvalidResponseError, match="total_num"):
        parse_page(body(record(), total=total), 0)


def test_timestamps_come_out_in_utc_whatever_offset_they_carry() -> None:
    # Given one time at UTC+8 and one with no zone (read as UTC)
    page = parse_page(body(record(created_at="2024-01-01T08:00:00+08:00", updated_at="2024-01-01T00:00:10")), 0)
    normalised = page.items[0].model_dump(mode="json")
    # Then the normalised record speaks UTC, and the duration spans the two correctly
    assert (normalised["created_at"], normalised["updated_at"]) == ("2024-01-01T00:00:00Z", "2024-01-01T00:00:10Z")
    assert normalised["duration_seconds"] == 10.0


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (record(status="cancelled"), "status"),
        (record(created_at="18/07/2017 21:41"), "created_at"),
        (record(progress="150.00"), "progress"),
        (record(progress="-1"), "progress"),
        (record(progress="lots"), "progress"),
        (record(progress="NaN"), "progress"),
        (record(error_code=["dcs.08.0001"]), "error_code"),
        ({"status": "failed", "restore_id": {}}, "restore_id"),
        ({"restore_id": "r-1"}, "status"),
    ],
)
def test_one_bad_record_is_reported_and_does_not_fail_the_page(bad: dict[str, object], reason: str) -> None:
    # Given a page of three records, the middle one bad
    page = parse_page(body(record(restore_id="a"), bad, record(restore_id="c")), offset=20)
    # Then the good ones survive and the bad one is reported at its window index
    assert [info.restore_id for info in page.items] == ["a", "c"]
    [invalid] = page.invalid
    assert invalid.index == 21
    assert invalid.restore_id == (bad["restore_id"] if isinstance(bad.get("restore_id"), str) else None)
    assert reason in invalid.reason


def test_a_record_that_is_not_an_object_is_reported() -> None:
    page = parse_page(body(record(), "not a record"), 0)
    assert len(page.items) == 1
    assert page.invalid[0].index == 1
    assert page.invalid[0].restore_id is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<html>502</html>",
        b'{"restore_record_response": [',
        b"[]",
        b'{"restore_record_response": []}',
        b'{"restore_record_response": "nope", "total_num": 1}',
        b'{"restore_record_response": [], "total_num": "many"}',
    ],
)
def test_a_body_of_the_wrong_shape_is_an_invalid_response(raw: bytes) -> None:
    with pytest.raises(DcsInvalidResponseError) as raised:
        parse_page(raw, 0, request_id="req-1")
    assert raised.value.status == 200
    assert raised.value.request_id == "req-1"


def test_a_missing_or_null_record_list_is_an_empty_page() -> None:
    assert parse_page(b'{"total_num": 0}', 0).items == []
    assert parse_page(b'{"restore_record_response": null, "total_num": 0}', 0).items == []
    assert parse_page(b'{"restore_record_response": {}, "total_num": 0}', 0).items == []


@pytest.mark.parametrize("status", list(RestoreStatus))
def test_each_status_normalises(status: RestoreStatus) -> None:
    page = parse_page(
        body(record(status=status.value, created_at="2024-01-01T00:00:00Z", updated_at="2024-01-01T00:01:30.500Z")), 0
    )
    normalised = page.items[0]
    assert normalised.status is status
    # Only a finished restore has a duration
    expected = 90.5 if status in (RestoreStatus.SUCCEED, RestoreStatus.FAILED) else None
    assert normalised.duration_seconds == expected


@pytest.mark.parametrize("code", sorted(ERROR_MESSAGES))
def test_each_documented_error_code_gets_its_message(code: str) -> None:
    normalised = parse_page(body(record(status="failed", error_code=code)), 0).items[0]
    assert normalised.error_code == code
    assert normalised.error_message == ERROR_MESSAGES[code]


def test_an_unknown_error_code_is_kept_with_a_generic_message() -> None:
    normalised = parse_page(body(record(status="failed", error_code="dcs.08.9999")), 0).items[0]
    assert normalised.error_code == "dcs.08.9999"
    assert normalised.error_message == UNKNOWN_ERROR_MESSAGE


def test_seeded_records_are_valid_and_deterministic() -> None:
    records = generate_records(100)
    assert records == generate_records(100)
    page = parse_page(body(*records), 0)
    assert len(page.items) == 100
    assert page.invalid == []
    assert {info.status for info in page.items} == set(RestoreStatus)


@pytest.mark.parametrize("drifted", [False, True], ids=["one call", "record by record"])
def test_records_given_the_same_fields_share_one_set_of_them(drifted: bool) -> None:
    # Given a page: two records with a remark, one without, one with again (and maybe a bad one: the slow path)
    full = {"restore_id", "status", "restore_remark"}
    given = [record(restore_id=name, restore_remark="r") for name in ("a", "b")]
    given += [record(restore_id="c"), record(restore_id="d", restore_remark="r")]
    if drifted:
        given.append(record(restore_id="x", status="exploded"))
    first, second, sparse, fourth = parse_page(body(*given), 0).items
    # Then each still reports exactly the fields it was given
    assert first.model_fields_set == second.model_fields_set == fourth.model_fields_set == full
    assert sparse.model_fields_set == {"restore_id", "status"}
    # And neighbours given the same fields hold one set between them, which a copy does not share
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    changed = second.model_copy(update={"backup_remark": "changed"})
    assert changed.__pydantic_fields_set__ is not second.__pydantic_fields_set__
    assert first.model_fields_set == full


@pytest.mark.parametrize("moment", ["0001-01-01T00:30:00+01:00", "9999-12-31T20:00:00-12:00"])
def test_a_time_that_leaves_the_calendar_in_utc_makes_its_record_invalid_not_the_page(moment: str) -> None:
    # Given a failed record whose time cannot be written in UTC, between two good ones
    bad = record(restore_id="r-bad", status="failed", created_at=moment)
    page = parse_page(body(record(restore_id="r-1"), bad, record(restore_id="r-2", status="failed")), 0)
    # Then it is reported at validation, and the others are read and can be serialised
    assert [(item.index, item.restore_id) for item in page.invalid] == [(1, "r-bad")]
    assert "created_at" in page.invalid[0].reason
    assert [info.model_dump(mode="json")["restore_id"] for info in page.items] == ["r-1", "r-2"]


def test_a_restore_id_too_long_to_key_the_ledger_makes_its_record_invalid() -> None:
    # DynamoDB keys hold 2,048 bytes: the ledger's key is project#instance#restore
    page = parse_page(body(record(restore_id="r" * 3000, status="failed"), record(restore_id="r-2")), 0)
    assert [(item.index, item.reason.split(":")[0]) for item in page.invalid] == [(0, "restore_id")]
    assert [info.restore_id for info in page.items] == ["r-2"]
