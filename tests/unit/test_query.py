from datetime import UTC, datetime, timedelta, timezone

import pytest

from dcs_restores import InvalidQueryError, RestoreQuery, TimeWindow

from ..support import window_query


def test_dcs_times_are_read_as_utc_and_aware_datetimes_are_converted() -> None:
    # Given a begin in yyyyMMddHHmmss and an end as a datetime at UTC+8
    query = window_query(
        begin_time="20240101000000", end_time=datetime(2024, 1, 2, 8, 0, 0, 500, tzinfo=timezone(timedelta(hours=8)))
    )
    # Then both are UTC, at second precision
    assert query.begin_time == datetime(2024, 1, 1, tzinfo=UTC)
    assert query.end_time == datetime(2024, 1, 2, 0, 0, tzinfo=UTC)
    assert query.page_params(0, 1000) == [
        ("begin_time", "20240101000000"),
        ("end_time", "20240102000000"),
        ("offset", "0"),
        ("limit", "1000"),
    ]


def test_iso_strings_with_an_offset_are_accepted() -> None:
    query = window_query(begin_time="2024-01-01T08:00:00+08:00", end_time="2024-01-01T00:00:05Z")
    assert query.begin_time == datetime(2024, 1, 1, tzinfo=UTC)


def test_whole_window_unless_offset_or_limit_is_given() -> None:
    assert not window_query().single_page
    assert window_query(limit=5).single_page
    assert window_query(offset=0).single_page


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"instance_id": "../etc"}, "instance_id", "letters, digits"),
        ({"instance_id": "a/b"}, "instance_id", "letters, digits"),
        ({"instance_id": "a%2Fb"}, "instance_id", "letters, digits"),
        ({"instance_id": "a b"}, "instance_id", "letters, digits"),
        ({"instance_id": ""}, "instance_id", "letters, digits"),
        ({"instance_id": "x" * 65}, "instance_id", "letters, digits"),
        ({"project_id": "p\u00e9"}, "project_id", "letters, digits"),
        ({"project_id": 42}, "project_id", "string"),
        ({"begin_time": "2024-13-01"}, "begin_time", "yyyyMMddHHmmss"),
        ({"begin_time": "20241301000000"}, "begin_time", "not a real date"),
        ({"end_time": datetime(2024, 1, 1)}, "end_time", "needs a timezone"),
        ({"end_time": 20240101000000}, "end_time", "yyyyMMddHHmmss"),
        ({"begin_time": "20240201000000", "end_time": "20240101000000"}, "begin_time", "after end_time"),
        ({"offset": -1}, "offset", "greater than or equal to 0"),
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": 1001}, "limit", "less than or equal to 1000"),
        ({"limit": "10"}, "limit", "integer"),
        ({"limit": True}, "limit", "integer"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        # Times that leave the calendar in UTC, or that DCS could not read as yyyyMMddHHmmss
        ({"begin_time": "0001-01-01T00:00:00+14:00"}, "begin_time", "out of range"),
        ({"end_time": "9999-12-31T20:00:00-12:00"}, "end_time", "out of range"),
        ({"begin_time": "0999-06-01T00:00:00Z"}, "begin_time", "years 1000 to 9999"),
        ({"offset": 10**30}, "offset", "less than or equal to 1000000"),
        ({"offset": True}, "offset", "integer"),
    ],
)
def test_each_bad_input_names_its_field(fields: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        window_query(**fields)
    assert raised.value.field == field
    assert reason in raised.value.reason
    assert str(raised.value).startswith(f"{field}: ")


def test_missing_fields_are_named() -> None:
    with pytest.raises(InvalidQueryError) as raised:
        RestoreQuery.of(project_id="p", begin_time="20240101000000", end_time="20240101000000")
    assert raised.value.field == "instance_id"


# The years DCS reads are 1000 to 9999: strftime writes year 1 as "10101000000", not "00010101000000"
TIMES_BEFORE_YEAR_1000 = ["00010101000000", "09991231000000", "0001-01-01T00:00:00Z", "0999-12-31T23:59:59Z"]
FIRST_MOMENT_DCS_READS = ["10000101000000", "1000-01-01T00:00:00Z", "1000-01-01T08:00:00+08:00"]


@pytest.mark.parametrize("time", TIMES_BEFORE_YEAR_1000)
def test_a_begin_before_1000_is_refused_in_every_format(time: str) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        window_query(begin_time=time, end_time="10000101000000")
    assert (raised.value.field, raised.value.reason) == ("begin_time", "must be in the years 1000 to 9999 (UTC)")


@pytest.mark.parametrize("time", TIMES_BEFORE_YEAR_1000)
def test_an_end_before_1000_is_refused_by_its_own_name(time: str) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        window_query(begin_time="10000101000000", end_time=time)
    assert (raised.value.field, raised.value.reason) == ("end_time", "must be in the years 1000 to 9999 (UTC)")


@pytest.mark.parametrize("time", FIRST_MOMENT_DCS_READS)
def test_the_first_moment_of_year_1000_is_accepted_and_sent_with_four_digits(time: str) -> None:
    query = window_query(begin_time=time, end_time="99991231235959")
    assert query.page_params(0, 1)[:2] == [("begin_time", "10000101000000"), ("end_time", "99991231235959")]


# One window value for the watch and the sweep: the order, the lookback and the length each checked in one place
def test_a_window_out_of_order_is_refused_alike_given_alone_or_in_a_query() -> None:
    begin, end = datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidQueryError) as alone:
        TimeWindow.of(begin, end)
    with pytest.raises(InvalidQueryError) as in_a_query:
        window_query(begin_time=begin, end_time=end)
    assert (alone.value.field, alone.value.reason) == ("begin_time", "is after end_time")
    assert (in_a_query.value.field, in_a_query.value.reason) == ("begin_time", "is after end_time")
    assert TimeWindow.of(end, end) == TimeWindow(end, end)


def test_a_lookback_ends_at_its_time_in_utc_to_the_second() -> None:
    at = datetime(2024, 1, 1, 8, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=8)))
    window = TimeWindow.back_from(at, timedelta(hours=1))
    assert (window.begin, window.end) == (datetime(2023, 12, 31, 23, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    assert window.end.tzinfo is UTC
    assert window.length == timedelta(hours=1)


@pytest.mark.parametrize(
    "end",
    [datetime(1000, 1, 1, tzinfo=UTC), datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)],  # below year 1000; below year 1
)
@pytest.mark.parametrize("field", ["scheduled_time", "time"])
def test_a_lookback_that_leaves_the_years_dcs_reads_names_the_time_it_looks_back_from(
    end: datetime, field: str
) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        TimeWindow.back_from(end, timedelta(seconds=2), field=field)
    assert (raised.value.field, raised.value.reason) == (field, "the window leaves the years DCS reads")
    assert TimeWindow.back_from(datetime(1000, 1, 1, 0, 0, 2, tzinfo=UTC), timedelta(seconds=2)).begin.year == 1000


def test_a_window_may_be_as_long_as_allowed_and_not_a_second_more() -> None:
    begin = datetime(2024, 1, 1, tzinfo=UTC)
    exactly = TimeWindow.of(begin, begin + timedelta(days=7))
    assert exactly.at_most(7) is exactly
    with pytest.raises(InvalidQueryError) as raised:
        TimeWindow.of(begin, begin + timedelta(days=7, seconds=1)).at_most(7)
    assert (raised.value.field, raised.value.reason) == ("begin_time", "the window is longer than 7 days")
