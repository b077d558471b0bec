"""A sweep's scope from its event: filters, the window fixed once, the next page's event."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.sweep import PAGE_SIZE
from dcs_restores import InvalidQueryError
from discover_instances.discovery import DiscoverySettings
from discover_instances.scope import scope_of

SETTINGS = DiscoverySettings(
    dcs_endpoint="https://dcs.example.com",
    dcs_project_id="proj",
    dcs_credentials_secret="secret",
    max_window_days=7,
    allowed_project_ids=frozenset({"p2"}),
)
NOW = datetime(2024, 3, 1, 12, 0, 30, 250_000, tzinfo=UTC)


def scope(event: dict[str, Any]) -> Any:
    return scope_of(event, SETTINGS, now=lambda: NOW)


def test_an_empty_event_sweeps_the_whole_default_project_over_the_default_lookback_ending_now() -> None:
    resolved = scope({})
    assert resolved.query.project_id == "proj"
    assert (resolved.query.name, resolved.query.status, resolved.query.tags) == (None, None, {})
    assert resolved.end_time == NOW.replace(microsecond=0)
    assert resolved.end_time - resolved.begin_time == SETTINGS.schedule_lookback
    assert (resolved.query.offset, resolved.query.limit, resolved.records) == (0, PAGE_SIZE, "none")


def test_the_window_ends_at_the_scheduled_time() -> None:
    resolved = scope({"scheduled_time": "2024-03-01T12:00:00+01:00", "lookback": "PT2H"})
    assert (resolved.begin_time, resolved.end_time) == (
        datetime(2024, 3, 1, 9, tzinfo=UTC),
        datetime(2024, 3, 1, 11, tzinfo=UTC),
    )


def test_the_next_page_carries_the_window_fixed_and_the_filters() -> None:
    first = scope(
        {
            "project_id": "p2",
            "status": "RUNNING",
            "tags": {"env": "prod", "team": "payments"},
            "name": "orders",
            "name_equal": True,
            "records": "failed",
            "page_size": 100,
            "correlation_id": "sweep-1",
        }
    )
    event = first.next_event(100, listed_total=57, page_ids=["i-1", "i-2"]).to_json()  # as it travels
    later = scope_of(event, SETTINGS, now=lambda: NOW + timedelta(hours=5))  # a later page, hours later
    assert (later.begin_time, later.end_time) == (first.begin_time, first.end_time)
    assert later.query.model_dump() == first.query.model_copy(update={"offset": 100}).model_dump()
    assert (later.records, later.correlation_id) == ("failed", "sweep-1")
    assert event["begin_time"].endswith("Z")
    assert later.listed_total == 57
    assert later.previous_page_ids == ("i-1", "i-2")


def test_the_sweep_is_described_as_each_page_states_it() -> None:
    described = scope({"begin_time": "2024-03-01T00:00:00Z", "end_time": "20240301060000", "tags": {"env": "dev"}})
    assert described.describe().model_dump() == {
        "project_id": "proj",
        "begin_time": "2024-03-01T00:00:00Z",
        "end_time": "2024-03-01T06:00:00Z",
        "records": "none",
        "filters": {"name": None, "name_equal": False, "status": None, "tags": {"env": "dev"}},
    }


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "event"),
        ({"project_id": "p3"}, "project_id"),
        ({"project_id": "../x"}, "project_id"),
        ({"status": "running"}, "status"),
        ({"tags": {"env": "a,b"}}, "tags.env"),
        ({"tags": {"": "x"}}, "tags"),
        ({"tags": ["env=prod"]}, "tags"),
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name_equal": "true"}, "name_equal"),
        ({"records": "all"}, "records"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"offset": "10"}, "offset"),
        ({"begin_time": "20240101000000"}, "event"),
        ({"begin_time": "20240102000000", "end_time": "20240101000000"}, "begin_time"),
        ({"begin_time": "20240101000000", "end_time": "20240301000000"}, "begin_time"),
        ({"begin_time": "20240101000000", "end_time": "20240101010000", "lookback": "PT1H"}, "event"),
        ({"scheduled_time": "2024-03-01T12:00:00"}, "scheduled_time"),
        ({"scheduled_time": "1000-01-01T00:00:00Z"}, "scheduled_time"),
        ({"lookback": "P400D"}, "lookback"),
        ({"unknown": 1}, "unknown"),
        ({"previous_page_ids": ["../x"]}, "previous_page_ids.0"),
        ({"previous_page_ids": ["i"] * 1001}, "previous_page_ids"),
    ],
)
def test_bad_input_is_refused_by_field_before_dcs(event: Any, field: str) -> None:
    with pytest.raises(InvalidQueryError) as refused:
        scope(event)
    assert refused.value.field == field


BEFORE_YEAR_1000 = ["00010101000000", "09991231000000", "0001-01-01T00:00:00Z", "0999-12-31T23:59:59Z"]
FIRST_OF_YEAR_1000 = ["10000101000000", "1000-01-01T00:00:00Z", "1000-01-01T08:00:00+08:00"]


@pytest.mark.parametrize("time", BEFORE_YEAR_1000)
@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"begin_time": "TIME", "end_time": "10000101000000"}, "begin_time"),
        ({"begin_time": "10000101000000", "end_time": "TIME"}, "end_time"),
        ({"scheduled_time": "TIME", "lookback": "PT1S"}, "scheduled_time"),
    ],
)
def test_a_time_before_year_1000_is_refused_by_name_in_every_format(
    time: str, event: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidQueryError) as refused:
        scope({name: time if value == "TIME" else value for name, value in event.items()})
    assert (refused.value.field, refused.value.reason) == (field, "must be in the years 1000 to 9999 (UTC)")


@pytest.mark.parametrize("time", FIRST_OF_YEAR_1000)
def test_the_first_moment_of_year_1000_is_accepted_in_every_format(time: str) -> None:
    first = datetime(1000, 1, 1, tzinfo=UTC)
    assert scope({"begin_time": time, "end_time": "10000102000000"}).begin_time == first
    assert scope({"begin_time": time, "end_time": time}).end_time == first


# MAX_WINDOW_DAYS is 7 in these settings: a window of exactly 7 days is swept, one second more is refused
@pytest.mark.parametrize(
    ("length", "accepted"),
    [
        (timedelta(days=7) - timedelta(seconds=1), True),
        (timedelta(days=7), True),
        (timedelta(days=7, seconds=1), False),
    ],
)
def test_a_sweep_s_window_may_be_max_window_days_long_and_not_a_second_more(length: timedelta, accepted: bool) -> None:
    begin = datetime(2024, 1, 1, tzinfo=UTC)
    given = {"begin_time": begin.isoformat(), "end_time": (begin + length).isoformat()}
    looked_back = {"scheduled_time": (begin + length).isoformat(), "lookback": length}
    for event in (given, looked_back):
        if accepted:
            resolved = scope(event)
            assert (resolved.begin_time, resolved.end_time) == (begin, begin + length)
        else:
            with pytest.raises(InvalidQueryError) as refused:
                scope(event)
            assert (refused.value.field, refused.value.reason) == ("begin_time", "the window is longer than 7 days")


def test_a_sweep_s_lookback_of_nothing_is_refused_by_name_and_one_second_is_a_window() -> None:
    with pytest.raises(InvalidQueryError) as refused:
        scope({"lookback": "PT0S"})
    assert (refused.value.field, refused.value.reason) == ("lookback", "Input should be greater than 0 seconds")
    resolved = scope({"lookback": "PT1S"})
    assert resolved.end_time - resolved.begin_time == timedelta(seconds=1)


def test_a_window_looked_back_past_year_1000_names_the_time_it_looks_back_from() -> None:
    with pytest.raises(InvalidQueryError) as refused:
        scope({"scheduled_time": "1000-01-01T00:00:00Z", "lookback": "PT1S"})
    assert (refused.value.field, refused.value.reason) == ("scheduled_time", "the window leaves the years DCS reads")
