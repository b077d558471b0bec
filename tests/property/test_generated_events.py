"""Generated events of every trigger shape, valid and hostile: each is a query or a named refusal.

An event that still lists ``instance_ids`` (one invocation once watched several) is always the
refusal that points at the fleet sweep, whatever else it holds.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_kind
from hypothesis import strategies as st

from dcs_restores import SAFE_ID_PATTERN, InvalidQueryError, RestoreQuery
from restore_watch.errors import UnknownEventError
from restore_watch.settings import Settings
from restore_watch.triggers import ONE_INSTANCE, request_from_event

SETTINGS = Settings(
    dcs_endpoint="https://dcs.example.com",
    dcs_project_id="proj",
    dcs_credentials_secret="secret",
    failed_restores_queue_url="https://sqs.example.com/1/q",
    dcs_instance_id="i-1",
    allowed_project_ids=frozenset({"p2", "p3"}),
)
HOSTILE_IDS = ["../x", "%2F", "a/b", "a b", "\u00e9", "\x00", "x" * 65, "", ".", "a\nb"]
ids = st.one_of(
    st.sampled_from(["proj", "p2", "p3"]),  # the projects the function reads
    st.from_regex(SAFE_ID_PATTERN, fullmatch=True),
    st.sampled_from(HOSTILE_IDS),
    st.text(max_size=80),
    st.integers(),
    st.none(),
)
times = st.one_of(
    st.from_regex(r"20\d{12}", fullmatch=True),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.sampled_from(["2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "yesterday", "", "99999999999999"]),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True),
    st.none(),
)
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(string.digits, max_size=5), st.none())
durations = st.one_of(st.sampled_from(["PT6H", "P1D", "-PT1H", "P400D", "six hours", "PT0S"]), st.integers())
scheduler = st.fixed_dictionaries(
    {"scheduled_time": times},
    optional={"instance_id": ids, "lookback": durations, "project_id": ids},
)
direct = st.fixed_dictionaries(
    {"instance_id": ids, "begin_time": times},
    optional={"end_time": times, "offset": numbers, "limit": numbers, "project_id": ids, "extra": st.integers()},
)
rule = st.fixed_dictionaries({"detail-type": st.just("Scheduled Event"), "source": st.text(max_size=12), "time": times})
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
safe_ids = st.from_regex(SAFE_ID_PATTERN, fullmatch=True)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))
plausible_direct = st.builds(
    lambda instance, begin, span, page: {
        "instance_id": instance,
        "begin_time": begin.strftime("%Y%m%d%H%M%S"),
        "end_time": (begin + span).isoformat(),
        **page,
    },
    safe_ids,
    moments,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    st.fixed_dictionaries({}, optional={"offset": st.integers(-5, 10**7), "limit": st.integers(-5, 1200)}),
)
plausible_schedule = st.builds(
    lambda instance, moment, hours: {
        "instance_id": instance,
        "scheduled_time": moment.isoformat(),
        "lookback": f"PT{hours}H",
    },
    safe_ids,
    moments,
    st.integers(min_value=0, max_value=1000),
)
# The list of instances a schedule once watched one by one, beside any shape: refused, never watched
listing_instances = st.builds(
    lambda event, instances: {**event, "instance_ids": instances},
    st.one_of(plausible_schedule, plausible_direct, scheduler, direct),
    st.one_of(st.lists(safe_ids, max_size=3), st.lists(ids, max_size=60), anything),
)
events = st.one_of(scheduler, direct, rule, anything, plausible_direct, plausible_schedule, listing_instances)


def adapt(event: Any) -> RestoreQuery | InvalidQueryError | UnknownEventError:
    """The adapter's answer; any other exception escapes and fails the test."""
    try:
        return request_from_event(event, SETTINGS).query
    except (InvalidQueryError, UnknownEventError) as refusal:
        return refusal


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=events)
def test_every_event_is_a_valid_query_or_a_named_refusal(event: Any) -> None:
    query = adapt(event)
    if isinstance(event, dict) and "instance_ids" in event:  # one invocation watches one instance
        note_kind("instance_ids refused")  # --hypothesis-show-statistics
        assert isinstance(query, InvalidQueryError)
        assert (query.field, query.reason) == ("instance_ids", ONE_INSTANCE)
        return
    note_kind(type(query).__name__ if not isinstance(query, RestoreQuery) else "accepted")
    if isinstance(query, InvalidQueryError | UnknownEventError):
        assert str(query)  # a message a person can read, naming the field where there is one
        assert not isinstance(query, InvalidQueryError) or query.field
        return
    # Whatever got through is safe to put into a DCS URL and within the configured limits
    assert isinstance(query, RestoreQuery)
    assert SETTINGS.may_read(query.project_id)
    for value in (query.project_id, query.instance_id):
        assert value.replace("-", "").replace("_", "").isalnum()
        assert value.isascii()
    assert query.begin_time <= query.end_time
    assert (query.end_time - query.begin_time).days <= SETTINGS.max_window_days
