"""Discovering a fleet: the layer's list_instances and the discovery function, against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from common.sweep import MAX_LABEL_BYTES, MAX_NAME_BYTES
from dcs_restores import DcsAuthError, DcsUnavailableError, InstanceQuery, InvalidQueryError
from devkit.emulator import DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator, Scripted
from devkit.fleet import tags_of
from devkit.invoke import LocalContext
from devkit.seed import generate_fleet
from discover_instances.app import lambda_handler

from ..support import AwsResources, function_logs, use_function_environment

FLEET = generate_fleet(57, seed=3)


@pytest.fixture
def fleet() -> Iterator[Emulator]:
    server = Emulator(instances=FLEET)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def discovery_env(monkeypatch: pytest.MonkeyPatch, fleet: Emulator, aws: AwsResources) -> dict[str, str]:
    return use_function_environment(monkeypatch, fleet.url, aws.queue_url, aws.table_name, aws.secret_name)


def ids(instances: list[Any]) -> list[str]:
    return [item["instance_id"] if isinstance(item, dict) else item.instance_id for item in instances]


def matching(**wanted: str) -> list[str]:
    return [
        instance["instance_id"]
        for instance in FLEET
        if all(instance.get(key) == value for key, value in wanted.items() if key != "env")
        and ("env" not in wanted or tags_of(instance).get("env") == wanted["env"])
    ]


def test_the_whole_fleet_is_read_in_pages_fetched_at_once(fleet: Emulator, make_client: Any) -> None:
    listing = make_client(endpoint=fleet.url, page_size=10).list_instances(
        InstanceQuery.of(project_id=DEFAULT_PROJECT_ID)
    )
    assert ids(listing.instances) == ids(FLEET)
    assert (listing.total, listing.truncated, listing.invalid_total) == (57, False, 0)
    assert sorted(
        int(request.query.split("offset=")[1].split("&")[0]) for request in fleet.instance_requests()
    ) == list(range(0, 57, 10))


def test_filters_reach_dcs_and_every_pair_of_tags_must_match(fleet: Emulator, make_client: Any) -> None:
    client = make_client(endpoint=fleet.url)
    query = InstanceQuery.of(project_id=DEFAULT_PROJECT_ID, status="RUNNING", tags={"env": "prod"})
    assert ids(client.list_instances(query).instances) == matching(status="RUNNING", env="prod")
    named = FLEET[7]["name"]
    exact = client.list_instances(InstanceQuery.of(project_id=DEFAULT_PROJECT_ID, name=named, name_equal=True))
    assert ids(exact.instances) == [FLEET[7]["instance_id"]]


def test_a_cap_truncates_loudly(fleet: Emulator, make_client: Any) -> None:
    listing = make_client(endpoint=fleet.url, page_size=10, max_instances=25).list_instances(
        InstanceQuery.of(project_id=DEFAULT_PROJECT_ID)
    )
    assert ids(listing.instances) == ids(FLEET)[:25]
    assert (listing.total, listing.truncated) == (57, True)


def test_a_refused_signature_and_a_dcs_that_stays_down_are_named(fleet: Emulator, make_client: Any) -> None:
    query = InstanceQuery.of(project_id=DEFAULT_PROJECT_ID)
    fleet.script(*[Scripted(status=503)] * 4)  # every attempt the retry policy makes
    with pytest.raises(DcsUnavailableError):
        make_client(endpoint=fleet.url).list_instances(query)
    fleet.script(Scripted(status=401))
    with pytest.raises(DcsAuthError):
        make_client(endpoint=fleet.url).list_instances(query)


def discover(event: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = lambda_handler(event, LocalContext())
    return answer


def test_a_sweep_walks_the_fleet_page_by_page_each_instance_once(discovery_env: dict[str, str]) -> None:
    pages = [discover({"page_size": 20, "scheduled_time": "2024-03-01T12:00:00Z", "lookback": "PT2H"})]
    while pages[-1]["next"] is not None:
        pages.append(discover(pages[-1]["next"]))
    assert [page["offset"] for page in pages] == [0, 20, 40]
    assert [instance for page in pages for instance in page["instances"]] == [
        {key: instance[key] for key in ("instance_id", "name", "engine", "status")} for instance in FLEET
    ]
    assert {page["total"] for page in pages} == {57}
    assert [page["count"] for page in pages] == [20, 20, 17]
    windows = {(page["sweep"]["begin_time"], page["sweep"]["end_time"]) for page in pages}
    assert windows == {("2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z")}  # fixed once, kept by every page


def test_filters_travel_with_every_page(discovery_env: dict[str, str]) -> None:
    first = discover({"page_size": 5, "status": "RUNNING", "tags": {"env": "prod"}})
    pages = [first]
    while pages[-1]["next"] is not None:
        pages.append(discover(pages[-1]["next"]))
    assert [instance["instance_id"] for page in pages for instance in page["instances"]] == matching(
        status="RUNNING", env="prod"
    )
    assert first["sweep"]["filters"] == {
        "name": None,
        "name_equal": False,
        "status": "RUNNING",
        "tags": {"env": "prod"},
    }


def test_an_invalid_instance_is_logged_by_place_and_never_drops_the_others(
    monkeypatch: pytest.MonkeyPatch, aws: AwsResources
) -> None:
    listed = [FLEET[0], {**FLEET[1], "instance_id": "../restores"}, FLEET[2]]
    with Emulator(instances=listed) as url, function_logs() as logs:
        use_function_environment(monkeypatch, url, aws.queue_url, aws.table_name, aws.secret_name)
        page = discover({})
    assert ids(page["instances"]) == ids([FLEET[0], FLEET[2]])
    assert (page["count"], page["invalid"]) == (2, 1)
    [warning] = [line for line in logs() if line["message"] == "DCS listed an invalid instance"]
    assert (warning["index"], warning["instance_id"]) == (1, "../restores")


def test_past_max_instances_the_sweep_stops_and_says_so(
    monkeypatch: pytest.MonkeyPatch, fleet: Emulator, aws: AwsResources
) -> None:
    use_function_environment(monkeypatch, fleet.url, aws.queue_url, aws.table_name, aws.secret_name, MAX_INSTANCES="40")
    second = discover(discover({"page_size": 20})["next"])
    assert (second["offset"], second["truncated"], second["next"]) == (20, True, None)


def test_bad_input_is_refused_by_field_before_dcs(discovery_env: dict[str, str], fleet: Emulator) -> None:
    with pytest.raises(InvalidQueryError) as refused:
        discover({"tags": {"env": "a,b"}})
    assert refused.value.field == "tags.env"
    assert fleet.instance_requests() == []


def test_refused_credentials_are_read_again_by_the_next_invocation(
    discovery_env: dict[str, str], fleet: Emulator, aws: AwsResources
) -> None:
    aws.put_secret(ak=fleet.ak, sk="rotated-away")
    with pytest.raises(DcsAuthError):
        discover({})
    aws.put_secret(ak=fleet.ak, sk=DEFAULT_SK)  # rotated back: the next invocation must read it
    assert discover({})["count"] == 57


def escaped_bytes(text: str) -> int:
    """What a text weighs in a JSON string with ASCII escapes: the larger encoding a state may be measured in."""
    return len(json.dumps(text)) - 2


WIDE = "\U0001f5c4"  # 4 bytes in UTF-8, 12 as an escaped surrogate pair


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("n" * 191, "n" * 191),
        ("n" * 192, "n" * 192),  # at the limit: whole
        ("n" * 193, "n" * 186 + "…"),  # the ellipsis weighs 6 bytes escaped
        ("中" * 32, "中" * 32),  # a Chinese name of 32 characters, 6 bytes each escaped
        ("中" * 64, "中" * 31 + "…"),
        (WIDE * 16, WIDE * 16),
        (WIDE * 17, WIDE * 15 + "…"),
        ('"' * 96, '"' * 96),  # a quote weighs 2
        ('"' * 97, '"' * 93 + "…"),
        ("\x01" * 200, "?" * 186 + "…"),  # a control character would be a 6-byte escape: replaced
    ],
    ids=[
        "below",
        "at",
        "above",
        "cjk-at",
        "cjk-above",
        "wide-at",
        "wide-above",
        "quotes-at",
        "quotes-above",
        "control",
    ],
)
def test_texts_are_cut_by_what_they_weigh_as_they_travel_so_a_page_stays_bounded(
    monkeypatch: pytest.MonkeyPatch, aws: AwsResources, name: str, kept: str
) -> None:
    drifted = {**FLEET[0], "name": name, "engine": "e" * 100, "status": WIDE * 10}
    with Emulator(instances=[drifted]) as url:
        use_function_environment(monkeypatch, url, aws.queue_url, aws.table_name, aws.secret_name)
        [listed] = discover({})["instances"]
    assert listed["name"] == kept
    assert escaped_bytes(listed["name"]) <= MAX_NAME_BYTES == 192
    assert (listed["engine"], listed["status"]) == ("e" * 26 + "…", WIDE * 2 + "…")
    assert max(escaped_bytes(listed[key]) for key in ("engine", "status")) <= MAX_LABEL_BYTES == 32


def every_page(first_event: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [discover(first_event)]
    while pages[-1]["next"] is not None:
        pages.append(discover(pages[-1]["next"]))
    return pages


def test_the_same_instances_listed_on_every_page_are_watched_once_and_counted_as_repeats(
    monkeypatch: pytest.MonkeyPatch, aws: AwsResources
) -> None:
    # Given DCS listing the same 200 instances on each of five pages (the same IDs, each listing a year later)
    rounds = [generate_fleet(200, seed=5, start=datetime(2020 + year, 1, 1, tzinfo=UTC)) for year in range(5)]
    with Emulator(instances=[instance for listed in rounds for instance in listed]) as url:
        use_function_environment(monkeypatch, url, aws.queue_url, aws.table_name, aws.secret_name)
        # When a sweep walks it in pages of 200
        pages = every_page({"page_size": 200})

    # Then each instance is given to the sweep once, the others are counted, and the fleet is said to have changed
    assert [page["offset"] for page in pages] == [0, 200, 400, 600, 800]
    assert ids([instance for page in pages for instance in page["instances"]]) == ids(rounds[0])
    assert [(page["count"], page["repeated"], page["fleet_changed"]) for page in pages] == [
        (200, 0, False),
        *[(0, 200, True)] * 4,
    ]


def test_an_instance_pushed_from_the_page_before_into_the_next_is_watched_once(
    monkeypatch: pytest.MonkeyPatch, aws: AwsResources
) -> None:
    # Given the last instance of the first page listed again first on the second (one added before it, say)
    pushed = [*FLEET[:20], FLEET[19], *FLEET[20:]]
    with Emulator(instances=pushed) as url:
        use_function_environment(monkeypatch, url, aws.queue_url, aws.table_name, aws.secret_name)
        pages = every_page({"page_size": 20})

    # Then every instance is given once; the second page counts the repeat and says the fleet changed
    assert ids([instance for page in pages for instance in page["instances"]]) == ids(FLEET)
    assert [(page["count"], page["repeated"], page["fleet_changed"]) for page in pages] == [
        (20, 0, False),
        (19, 1, True),
        (18, 0, False),
    ]
    assert pages[0]["next"]["previous_page_ids"] == ids(FLEET[:20])  # what the second page is checked against


def test_an_instance_listed_twice_in_one_page_is_watched_once(
    monkeypatch: pytest.MonkeyPatch, aws: AwsResources
) -> None:
    with Emulator(instances=[FLEET[0], FLEET[1], FLEET[1], FLEET[2]]) as url:
        use_function_environment(monkeypatch, url, aws.queue_url, aws.table_name, aws.secret_name)
        [page] = every_page({})
    assert ids(page["instances"]) == ids(FLEET[:3])
    assert (page["count"], page["repeated"], page["fleet_changed"]) == (3, 1, True)


@pytest.mark.parametrize(("fleet_size", "offsets"), [(39, [0, 20]), (40, [0, 20]), (41, [0, 20, 40])])
def test_a_next_page_is_asked_for_only_while_its_offset_is_below_the_total(
    monkeypatch: pytest.MonkeyPatch, aws: AwsResources, fleet_size: int, offsets: list[int]
) -> None:
    # Given a fleet one below, at, and one above two pages of 20
    with Emulator(instances=FLEET[:fleet_size]) as url:
        use_function_environment(monkeypatch, url, aws.queue_url, aws.table_name, aws.secret_name)
        pages = every_page({"page_size": 20})
    # Then at an offset equal to the total there is no next page: none is read empty
    assert [page["offset"] for page in pages] == offsets
    assert ids([instance for page in pages for instance in page["instances"]]) == ids(FLEET[:fleet_size])


@pytest.mark.parametrize(("fleet_size", "truncated"), [(39, False), (40, False), (41, True)])
def test_a_fleet_of_exactly_max_instances_is_not_truncated(
    monkeypatch: pytest.MonkeyPatch, aws: AwsResources, fleet_size: int, truncated: bool
) -> None:
    # Given MAX_INSTANCES of 40 and a fleet one below, at, and one above it
    with Emulator(instances=FLEET[:fleet_size]) as url:
        use_function_environment(monkeypatch, url, aws.queue_url, aws.table_name, aws.secret_name, MAX_INSTANCES="40")
        pages = every_page({"page_size": 20})
    # Then the sweep stops at 40 and says truncated only when DCS listed more than that
    assert [(page["offset"], page["truncated"]) for page in pages] == [(0, False), (20, truncated)]
    assert sum(page["count"] for page in pages) == min(fleet_size, 40)
