from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.errors import ConfigurationError
from common.settings import DEFAULT_LOOKBACK
from dcs_restores import InvalidQueryError
from restore_watch.errors import UnknownEventError
from restore_watch.payload import RecordSelection
from restore_watch.settings import Settings
from restore_watch.shaping import ResponseLimit
from restore_watch.triggers import request_from_event, request_from_http

WINDOW = {"begin_time": "20240101000000", "end_time": "20240101060000"}
SETTINGS = Settings(
    dcs_endpoint="https://dcs.example.com",
    dcs_project_id="proj",
    dcs_credentials_secret="secret",
    failed_restores_queue_url="https://sqs.example.com/1/q",
    max_window_days=7,
    allowed_project_ids=frozenset({"p2"}),
)


def test_a_scheduler_input_ends_its_window_at_the_scheduled_time() -> None:
    query = request_from_event(
        {"instance_id": "i-1", "lookback": "PT30M", "scheduled_time": "2024-03-01T12:00:00+01:00"}, SETTINGS
    ).query
    assert (query.begin_time, query.end_time) == (
        datetime(2024, 3, 1, 10, 30, tzinfo=UTC),
        datetime(2024, 3, 1, 11, 0, tzinfo=UTC),
    )
    assert query.project_id == "proj"
    assert not query.single_page


def test_a_scheduler_input_may_name_another_project_the_function_reads() -> None:
    query = request_from_event(
        {"instance_id": "i-1", "scheduled_time": "2024-03-01T12:00:00Z", "project_id": "p2"}, SETTINGS
    ).query
    assert (query.instance_id, query.project_id) == ("i-1", "p2")


@pytest.mark.parametrize(
    "event",
    [
        {"instance_ids": ["i-1", "i-2"], "scheduled_time": "2024-03-01T12:00:00Z"},
        {"instance_ids": ["i-1"], "lookback": "PT1H", "scheduled_time": "2024-03-01T12:00:00Z", "records": "none"},
        {"instance_id": "i-1", "instance_ids": ["i-2"], "scheduled_time": "2024-03-01T12:00:00Z"},
        {"instance_ids": [], "scheduled_time": "2024-03-01T12:00:00Z"},
        {"instance_ids": ["no/slash"], "scheduled_time": "not a time", "project_id": "p3"},  # before any other check
        {"instance_ids": ["i-1"], **WINDOW},
        {"instance_ids": None},
    ],
)
def test_an_event_naming_several_instances_is_refused_and_pointed_at_the_sweep(event: dict[str, Any]) -> None:
    # One invocation watches one instance: a list of them is refused by name, whatever else the event holds
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event(event, SETTINGS)
    assert refused.value.field == "instance_ids"
    assert refused.value.reason == (
        "one invocation watches one instance: watch many with the fleet sweep (see the README's Workflows)"
    )


def test_a_project_the_function_does_not_read_is_refused_before_dcs() -> None:
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event(
            {"instance_id": "i-1", "scheduled_time": "2024-03-01T12:00:00Z", "project_id": "p3"}, SETTINGS
        )
    assert refused.value.field == "project_id"


def test_allowed_projects_come_comma_separated_from_the_environment() -> None:
    environ = {
        "DCS_ENDPOINT": "https://dcs.example.com",
        "DCS_PROJECT_ID": "proj",
        "DCS_CREDENTIALS_SECRET": "secret",
        "FAILED_RESTORES_QUEUE_URL": "https://sqs.example.com/1/q",
        "ALLOWED_PROJECT_IDS": " p2, p3 ,,",
    }
    settings = Settings.from_env(environ)
    assert settings.allowed_project_ids == {"p2", "p3"}
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({**environ, "ALLOWED_PROJECT_IDS": "p2,../p3"})
    assert refused.value.variable == "ALLOWED_PROJECT_IDS"
    assert "item 2" in str(refused.value)
    assert [settings.may_read(project) for project in ("proj", "p2", "p3", "p4")] == [True, True, True, False]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"scheduled_time": "2024-03-01T12:00:00Z"}, "instance_id"),
        ({"instance_id": "no/slash", "scheduled_time": "2024-03-01T12:00:00Z"}, "instance_id"),
        ({"instance_id": ["i-1"], "scheduled_time": "2024-03-01T12:00:00Z"}, "instance_id"),
        ({"instance_id": "i", "scheduled_time": "2024-03-01T12:00:00"}, "scheduled_time"),
        ({"instance_id": "i", "lookback": "-PT1H", "scheduled_time": "2024-03-01T12:00:00Z"}, "lookback"),
        ({"instance_id": "i", "lookback": "P30D", "scheduled_time": "2024-03-01T12:00:00Z"}, "begin_time"),
        ({"instance_id": "i", "lookback": "PT1H"}, "scheduled_time"),
        ({"instance_id": "i", "begin_time": "20240101000000"}, "end_time"),
        ({"instance_id": "i", "begin_time": "x", "end_time": "20240101000000"}, "begin_time"),
        ({"instance_id": 7, "begin_time": "20240101000000", "end_time": "20240101000000"}, "instance_id"),
        ({"instance_id": "i", "begin_time": "20240101000000", "end_time": "20240101000000", "limit": 0}, "limit"),
        ({"instance_id": "i", "begin_time": "20240101000000", "end_time": "20240101000000", "typo": 1}, "typo"),
        ({"detail-type": "Scheduled Event", "source": "aws.events"}, "time"),
        ({"instance_id": "i", "scheduled_time": "2024-03-01T12:00:00Z", "records": "some"}, "records"),
        ({"instance_id": "i", "begin_time": "20240101000000", "end_time": "20240101000000", "records": 1}, "records"),
        ({"instance_id": "i", "begin_time": "x", "end_time": "y", "max_response_bytes": "lots"}, "max_response_bytes"),
        ({"instance_id": "i", "begin_time": "x", "end_time": "y", "max_response_bytes": True}, "max_response_bytes"),
        ({"instance_id": "i", "begin_time": "x", "end_time": "y", "max_response_bytes": "99999"}, "max_response_bytes"),
        (
            {
                "instance_id": "i",
                "begin_time": "20240101000000",
                "end_time": "20240101000000",
                "max_response_bytes": 99,
            },
            "max_response_bytes",
        ),
        (
            {"instance_id": "i", "scheduled_time": "2024-03-01T12:00:00Z", "max_response_bytes": 10**7},
            "max_response_bytes",
        ),
    ],
)
def test_bad_events_name_the_field(event: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        request_from_event(event, SETTINGS)
    assert raised.value.field == field


@pytest.mark.parametrize("event", [[], "text", None, 5, {}, {"detail": {}}, {"Records": []}])
def test_unknown_shapes_are_refused(event: Any) -> None:
    with pytest.raises(UnknownEventError):
        request_from_event(event, SETTINGS)


def test_a_scheduled_rule_reads_the_configured_instance_and_lookback() -> None:
    settings = SETTINGS.model_copy(update={"dcs_instance_id": "i-9", "schedule_lookback": timedelta(hours=1)})
    query = request_from_event(
        {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2024-03-01T12:00:00Z", "detail": {}},
        settings,
    ).query
    assert query.instance_id == "i-9"
    assert query.begin_time == datetime(2024, 3, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "event",
    [
        {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2024-03-01T12:00:00Z", "detail": {}},
        {"instance_id": "i-9", "scheduled_time": "2024-03-01T12:00:00Z"},
    ],
)
def test_every_schedule_without_a_lookback_looks_back_the_one_default(event: dict[str, Any]) -> None:
    # Given settings that leave SCHEDULE_LOOKBACK at its default, and a schedule that names no lookback
    settings = SETTINGS.model_copy(update={"dcs_instance_id": "i-9"})
    # Then both kinds of schedule read the same window: the default lookback, as the template's
    query = request_from_event(event, settings).query
    assert query.end_time - query.begin_time == DEFAULT_LOOKBACK == timedelta(hours=6)


def test_an_event_lowers_the_response_limit_but_never_raises_it() -> None:
    window = {"instance_id": "i", "begin_time": "20240101000000", "end_time": "20240101000000"}
    settings = SETTINGS.model_copy(update={"max_response_bytes": 1_000_000})
    assert request_from_event(window, settings).limit == ResponseLimit(RecordSelection.ALL, 1_000_000)
    lower = request_from_event({**window, "max_response_bytes": 262_144, "records": "failed"}, settings)
    assert lower.limit == ResponseLimit(RecordSelection.FAILED, 262_144)
    higher = request_from_event({**window, "max_response_bytes": 6_000_000}, settings)
    assert higher.limit.max_bytes == 1_000_000


def test_a_scheduler_input_may_lower_the_limit_as_a_direct_one_may() -> None:
    schedule = {"instance_id": "i-1", "scheduled_time": "2024-03-01T12:00:00Z"}
    assert request_from_event(schedule, SETTINGS).limit == ResponseLimit(max_bytes=SETTINGS.max_response_bytes)
    lower = request_from_event({**schedule, "records": "none", "max_response_bytes": 65_536}, SETTINGS)
    assert lower.limit == ResponseLimit(RecordSelection.NONE, 65_536)


@pytest.mark.parametrize("lookback", ["P367D", "P99999999D", 5_566_341_455_280_001])
def test_a_lookback_past_any_window_is_refused_by_name(lookback: Any) -> None:
    # A lookback that would take the window's start before year 1 must not overflow: it names the field
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event(
            {"instance_id": "i-1", "lookback": lookback, "scheduled_time": "2024-03-01T12:00:00Z"}, SETTINGS
        )
    assert refused.value.field == "lookback"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"instance_id": "i-1", "scheduled_time": "0001-01-01T03:00:00Z"}, "scheduled_time"),
        ({"detail-type": "Scheduled Event", "source": "aws.events", "time": "0001-01-01T03:00:00Z"}, "time"),
        ({"instance_id": "i-1", **WINDOW, "limit": True}, "limit"),
        ({"instance_id": "i-1", **WINDOW, "offset": 10**30}, "offset"),
        ({"instance_id": "i-1", **WINDOW, "offset": "10"}, "offset"),
    ],
)
def test_events_that_would_overflow_or_be_coerced_are_refused_by_name(event: dict[str, Any], field: str) -> None:
    settings = SETTINGS.model_copy(update={"dcs_instance_id": "i-9"})
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event(event, settings)
    assert refused.value.field == field


def test_started_at_begins_a_schedule_s_window_instead_of_the_lookback() -> None:
    request = request_from_event(
        {
            "instance_id": "i-1",
            "scheduled_time": "2024-03-01T12:00:00Z",
            "lookback": "PT1M",
            "started_at": "2024-03-01T03:00:00+01:00",
        },
        SETTINGS,
    )
    assert (request.query.begin_time, request.query.end_time) == (
        datetime(2024, 3, 1, 2, tzinfo=UTC),
        datetime(2024, 3, 1, 12, tzinfo=UTC),
    )


def test_a_restore_started_after_the_scheduled_time_is_refused() -> None:
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event(
            {"instance_id": "i-1", "scheduled_time": "2024-03-01T12:00:00Z", "started_at": "2024-03-01T13:00:00Z"},
            SETTINGS,
        )
    assert refused.value.field == "event"


@pytest.mark.parametrize(
    "event",
    [
        {"instance_id": "i-1", "scheduled_time": "2024-03-01T12:00:00Z"},
        {"instance_id": "i-1", **WINDOW},
    ],
)
def test_a_time_limit_shortens_the_time_lambda_gives_never_lengthens_it(event: dict[str, Any]) -> None:
    assert request_from_event(event, SETTINGS).remaining(100.0) == 100.0
    limited = request_from_event({**event, "time_limit_seconds": 50}, SETTINGS)
    assert (limited.remaining(100.0), limited.remaining(20.0)) == (50.0, 20.0)


@pytest.mark.parametrize("limit", [4, 901, 50.5, "50", True])
def test_a_time_limit_out_of_range_or_not_an_integer_is_refused(limit: Any) -> None:
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event({"instance_id": "i-1", **WINDOW, "time_limit_seconds": limit}, SETTINGS)
    assert refused.value.field == "time_limit_seconds"


# Every time an event gives is read one way (yyyyMMddHHmmss as UTC, or ISO 8601 with an offset) and checked
# against the years DCS reads: a number is no time, and the 14-digit form is not a count of milliseconds.
BEFORE_YEAR_1000 = ["00010101000000", "09991231000000", "0001-01-01T00:00:00Z", "0999-12-31T23:59:59Z"]
FIRST_OF_YEAR_1000 = ["10000101000000", "1000-01-01T00:00:00Z", "1000-01-01T08:00:00+08:00"]


@pytest.mark.parametrize("time", BEFORE_YEAR_1000)
@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"instance_id": "i-1", "begin_time": "TIME", "end_time": "10000101000000"}, "begin_time"),
        ({"instance_id": "i-1", "begin_time": "10000101000000", "end_time": "TIME"}, "end_time"),
        ({"instance_id": "i-1", "scheduled_time": "10000102000000", "started_at": "TIME"}, "started_at"),
        ({"instance_id": "i-1", "lookback": "PT1S", "scheduled_time": "TIME"}, "scheduled_time"),
        ({"detail-type": "Scheduled Event", "source": "aws.events", "time": "TIME"}, "time"),
    ],
)
def test_a_time_before_year_1000_is_refused_by_name_in_every_format(
    time: str, event: dict[str, str], field: str
) -> None:
    settings = SETTINGS.model_copy(update={"dcs_instance_id": "i-9"})
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event({name: time if value == "TIME" else value for name, value in event.items()}, settings)
    assert (refused.value.field, refused.value.reason) == (field, "must be in the years 1000 to 9999 (UTC)")


@pytest.mark.parametrize("time", FIRST_OF_YEAR_1000)
def test_the_first_moment_of_year_1000_is_accepted_in_every_format(time: str) -> None:
    first = datetime(1000, 1, 1, tzinfo=UTC)
    direct = request_from_event({"instance_id": "i-1", "begin_time": time, "end_time": "10000102000000"}, SETTINGS)
    assert direct.query.begin_time == first
    followed = {"instance_id": "i-1", "scheduled_time": "1000-01-02T00:00:00Z", "started_at": time}
    assert request_from_event(followed, SETTINGS).query.begin_time == first
    at_once = request_from_event({"instance_id": "i-1", "scheduled_time": time, "started_at": time}, SETTINGS)
    assert (at_once.query.begin_time, at_once.query.end_time) == (first, first)


# MAX_WINDOW_DAYS is 7 in these settings: a window of exactly 7 days is read, one second more is refused
BEGIN = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("length", "accepted"),
    [
        (timedelta(days=7) - timedelta(seconds=1), True),
        (timedelta(days=7), True),
        (timedelta(days=7, seconds=1), False),
    ],
)
def test_a_window_may_be_max_window_days_long_and_not_a_second_more(length: timedelta, accepted: bool) -> None:
    event = {"instance_id": "i-1", "begin_time": BEGIN.isoformat(), "end_time": (BEGIN + length).isoformat()}
    schedule = {"instance_id": "i-1", "lookback": length, "scheduled_time": (BEGIN + length).isoformat()}
    for given in (event, schedule):
        if accepted:
            query = request_from_event(given, SETTINGS).query
            assert (query.begin_time, query.end_time) == (BEGIN, BEGIN + length)
        else:
            with pytest.raises(InvalidQueryError) as refused:
                request_from_event(given, SETTINGS)
            assert (refused.value.field, refused.value.reason) == ("begin_time", "the window is longer than 7 days")


def test_a_lookback_of_nothing_is_refused_by_name_and_one_second_is_a_window() -> None:
    schedule = {"instance_id": "i-1", "scheduled_time": "2024-03-01T12:00:00Z"}
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event({**schedule, "lookback": "PT0S"}, SETTINGS)
    assert (refused.value.field, refused.value.reason) == ("lookback", "Input should be greater than 0 seconds")
    query = request_from_event({**schedule, "lookback": "PT1S"}, SETTINGS).query
    assert query.end_time - query.begin_time == timedelta(seconds=1)


def test_an_http_request_and_a_direct_event_asking_the_same_make_the_same_watch_request() -> None:
    # Given the same window, page, records and followed restore, asked over the HTTP API and by a direct invoke
    asked: dict[str, Any] = {
        "project_id": "p2",
        "offset": 10,
        "limit": 5,
        "records": RecordSelection.FAILED,
        "restore_id": "r-1",
    }
    direct = request_from_event({"instance_id": "i-1", **WINDOW, **asked}, SETTINGS)
    # When the HTTP route hands its parameters to its adapter
    http = request_from_http(SETTINGS, "i-1", WINDOW["begin_time"], WINDOW["end_time"], **asked)
    # Then both are one WatchRequest, the HTTP one marked as such (its answer is due within the integration's 30 s)
    assert http == replace(direct, http=True)
    assert not direct.http


def test_an_http_request_is_held_to_the_projects_and_the_window_length_like_any_event() -> None:
    with pytest.raises(InvalidQueryError, match="ALLOWED_PROJECT_IDS") as refused:
        request_from_http(SETTINGS, "i-1", WINDOW["begin_time"], WINDOW["end_time"], project_id="p3")
    assert refused.value.field == "project_id"
    with pytest.raises(InvalidQueryError, match="longer than 7 days") as refused:
        request_from_http(SETTINGS, "i-1", "20240101000000", "20240109000000")
    assert refused.value.field == "begin_time"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"instance_id": "i-1", "scheduled_time": "1000-01-01T00:00:00Z", "lookback": "PT1S"}, "scheduled_time"),
        ({"detail-type": "Scheduled Event", "source": "aws.events", "time": "1000-01-01T00:00:00Z"}, "time"),
    ],
)
def test_a_window_looked_back_past_year_1000_names_the_time_it_looks_back_from(
    event: dict[str, Any], field: str
) -> None:
    settings = SETTINGS.model_copy(update={"dcs_instance_id": "i-9"})
    with pytest.raises(InvalidQueryError) as refused:
        request_from_event(event, settings)
    assert (refused.value.field, refused.value.reason) == (field, "the window leaves the years DCS reads")
