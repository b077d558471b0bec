"""The emulator's "List instances" answers as the vendor documents: checked with raw signed requests."""

import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from devkit.emulator import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, Emulator, Scripted
from devkit.fleet import tags_of
from devkit.seed import generate_fleet, generate_records

from .signed_requests import INSTANCES_PATH, get

FLEET = generate_fleet(60)
VENDOR_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    server = Emulator(instances=FLEET)
    with server:
        yield server


@pytest.fixture
def url(emulator: Emulator) -> str:
    return emulator.url


def instances(url: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    response = get(url, params, path=INSTANCES_PATH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def every_page(url: str, params: list[tuple[str, str]], limit: int) -> tuple[list[dict[str, Any]], set[int]]:
    """Every instance the filter matches, read page by page to instance_num; and each page's instance_num."""
    read: list[dict[str, Any]] = []
    totals = set()
    while True:
        body = instances(url, [*params, ("offset", str(len(read))), ("limit", str(limit))])
        totals.add(body["instance_num"])
        read.extend(body["instances"])
        if not body["instances"] or len(read) >= body["instance_num"]:
            return read, totals


def ids(fleet: list[dict[str, Any]]) -> list[str]:
    return [instance["instance_id"] for instance in fleet]


def served_order(fleet: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(fleet, key=lambda instance: (instance["created_at"], instance["instance_id"]))


def test_the_default_page_is_10_instances_of_the_whole_fleet(url: str) -> None:
    body = instances(url, [])
    assert body["instance_num"] == 60
    assert ids(body["instances"]) == ids(served_order(FLEET))[:10]


def test_instances_come_in_the_vendors_shape(url: str) -> None:
    [instance] = instances(url, [("limit", "1")])["instances"]
    assert set(instance) >= {
        "instance_id",
        "name",
        "engine",
        "engine_version",
        "status",
        "created_at",
        "tags",
        "enterprise_project_id",
        "spec_code",
        "capacity",
        "az_codes",
        "description",
    }
    assert VENDOR_TIME.match(instance["created_at"])
    assert [set(tag) for tag in instance["tags"]] == [{"key", "value"}, {"key", "value"}]
    assert isinstance(instance["capacity"], int)
    assert isinstance(instance["az_codes"], list)


def test_paging_to_instance_num_reads_every_instance_once_in_a_stable_order(url: str) -> None:
    read, totals = every_page(url, [], limit=25)
    assert totals == {60}
    assert ids(read) == ids(served_order(FLEET))


def test_a_page_past_the_end_is_empty_and_still_counts_the_fleet(url: str) -> None:
    assert instances(url, [("offset", "60")]) == {"instance_num": 60, "instances": []}
    assert len(instances(url, [("offset", "55")])["instances"]) == 5


def test_name_matches_a_case_sensitive_substring(url: str) -> None:
    expected = [instance for instance in FLEET if "orders" in instance["name"]]
    assert expected
    read, totals = every_page(url, [("name", "orders")], limit=3)
    assert totals == {len(expected)}
    assert ids(read) == ids(served_order(expected))
    assert instances(url, [("name", "Orders")]) == {"instance_num": 0, "instances": []}


def test_name_equal_matches_the_whole_name_only(url: str) -> None:
    name = FLEET[7]["name"]
    body = instances(url, [("name", name), ("name_equal", "true")])
    assert ids(body["instances"]) == [FLEET[7]["instance_id"]]
    assert instances(url, [("name", name[:-1]), ("name_equal", "true")])["instance_num"] == 0
    assert instances(url, [("name", name[:-1]), ("name_equal", "false")])["instance_num"] >= 1


@pytest.mark.parametrize("status", ["RUNNING", "RESTARTING", "ERROR", "FROZEN", "CREATING"])
def test_status_matches_exactly(url: str, status: str) -> None:
    expected = [instance for instance in FLEET if instance["status"] == status]
    read, totals = every_page(url, [("status", status)], limit=100)
    assert totals == {len(expected)}
    assert ids(read) == ids(served_order(expected))


def test_a_tag_filter_keeps_the_instances_with_that_tag(url: str) -> None:
    expected = [instance for instance in FLEET if tags_of(instance).get("env") == "prod"]
    read, totals = every_page(url, [("tags", "env=prod")], limit=100)
    assert totals == {len(expected)}
    assert ids(read) == ids(served_order(expected))


def test_several_tags_must_all_match(url: str) -> None:
    both = [instance for instance in FLEET if tags_of(instance) == {"env": "prod", "team": "checkout"}]
    prod = [instance for instance in FLEET if tags_of(instance).get("env") == "prod"]
    assert 0 < len(both) < len(prod)
    read, _ = every_page(url, [("tags", "env=prod,team=checkout")], limit=100)
    assert ids(read) == ids(served_order(both))
    assert instances(url, [("tags", "env=prod,team=nobody")]) == {"instance_num": 0, "instances": []}


def test_instance_id_picks_one_instance(url: str) -> None:
    wanted = FLEET[42]
    assert instances(url, [("instance_id", wanted["instance_id"])]) == {"instance_num": 1, "instances": [wanted]}
    assert instances(url, [("instance_id", "not-an-instance")])["instance_num"] == 0


def test_ip_matches_the_connection_address_of_instances_that_have_one() -> None:
    fleet = [{**FLEET[0], "ip": "192.168.0.10"}, {**FLEET[1], "ip": "192.168.0.11"}, FLEET[2]]
    with Emulator(instances=fleet) as url:
        assert ids(instances(url, [("ip", "192.168.0.11")])["instances"]) == [FLEET[1]["instance_id"]]


def test_filters_combine_and_instance_num_counts_the_match_not_the_page(url: str) -> None:
    expected = [
        instance
        for instance in FLEET
        if instance["status"] == "RUNNING"
        and tags_of(instance).get("env") == "prod"
        and "-cache-01" in instance["name"]
    ]
    assert len(expected) > 2
    body = instances(url, [("status", "RUNNING"), ("tags", "env=prod"), ("name", "-cache-01"), ("limit", "2")])
    assert body["instance_num"] == len(expected)
    assert ids(body["instances"]) == ids(served_order(expected))[:2]


def test_include_failure_and_include_delete_are_accepted(url: str) -> None:
    body = instances(url, [("include_failure", "true"), ("include_delete", "true")])
    assert body == instances(url, [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("limit", "0")], "limit"),
        ([("limit", "1001")], "limit"),
        ([("limit", "ten")], "limit"),
        ([("offset", "-1")], "offset"),
        ([("offset", "1.5")], "offset"),
        ([("tags", "env")], "tags"),
        ([("tags", "=prod")], "tags"),
        ([("tags", "env=prod,team")], "tags"),
        ([("tags", "env=prod=eu")], "tags"),
        ([("tags", "")], "tags"),
        ([("name_equal", "yes")], "name_equal"),
        ([("include_failure", "1")], "include_failure"),
    ],
)
def test_bad_parameters_get_the_documented_400_body(url: str, params: list[tuple[str, str]], field: str) -> None:
    response = get(url, params, path=INSTANCES_PATH)
    assert response.status_code == 400
    body = response.json()
    assert body == {"error_code": "DCS.4800", "error_msg": body["error_msg"], "error_ext_msg": None}
    assert field in body["error_msg"]


def test_limit_1000_is_the_largest_page(url: str) -> None:
    assert len(instances(url, [("limit", "1000")])["instances"]) == 60


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"sk": "wrong"}, "signature does not match"),
        ({"skew": timedelta(minutes=16)}, "15 minutes"),
        ({"project_id": "ffffffffffffffffffffffffffffffff"}, "X-Project-Id"),
    ],
)
def test_bad_signatures_get_401(url: str, options: dict[str, Any], reason: str) -> None:
    response = get(url, [], path=INSTANCES_PATH, **options)
    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"
    assert reason in response.json()["error_msg"]


def test_an_unsigned_request_gets_401(url: str) -> None:
    response = requests.get(f"{url}{INSTANCES_PATH}", timeout=5)
    assert response.status_code == 401
    assert "missing Authorization" in response.json()["error_msg"]


def test_another_project_is_refused_as_for_restores(url: str) -> None:
    other = "ffffffffffffffffffffffffffffffff"
    response = get(url, [], path=f"/v2/{other}/instances", project_id=other)
    assert response.status_code == 401
    assert "the project does not belong to these credentials" in response.json()["error_msg"]


def test_a_scripted_fault_answers_the_instances_route(emulator: Emulator, url: str) -> None:
    # Given a DCS that answers the next requests with a throttle, then a body that is not a list
    emulator.script(Scripted(status=429, retry_after="2"), Scripted(body="bad-shape"))
    # Then the first gets the scripted status and the vendor's error body
    throttled = get(url, [], path=INSTANCES_PATH)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert throttled.json()["error_code"] == "APIGW.0308"
    # And the second a readable instance_num with no list behind it
    assert get(url, [], path=INSTANCES_PATH).json() == {"instances": "not a list", "instance_num": 40}
    # And the script spent, the fleet is served again
    assert instances(url, [])["instance_num"] == 60


def test_latency_applies_to_the_instances_route(emulator: Emulator, url: str) -> None:
    emulator.faults.latency = 0.2
    started = time.monotonic()
    instances(url, [])
    assert time.monotonic() - started >= 0.2


def test_instance_drift_and_a_growing_instance_num_change_the_instance_list(emulator: Emulator, url: str) -> None:
    # Given drift on the third instance listed and an instance_num that grows by 5 after the first page
    emulator.faults.instance_drift = {2: {"status": ["not", "a", "status"], "tags": None}}
    emulator.faults.instance_num_delta = 5
    first = instances(url, [])
    second = instances(url, [])
    # Then the drifted fields are served as set, on every page holding that instance
    assert first["instances"][2]["status"] == ["not", "a", "status"]
    assert first["instances"][2]["tags"] is None
    assert second["instances"][2] == first["instances"][2]
    # And only the pages after the first one count the extra instances
    assert (first["instance_num"], second["instance_num"]) == (60, 65)


def test_restore_knobs_leave_the_instance_list_alone(emulator: Emulator, url: str) -> None:
    emulator.faults.drift = {0: {"status": "exploded"}}
    emulator.faults.total_num_delta = 7
    instances(url, [])
    body = instances(url, [])
    assert body["instance_num"] == 60
    assert body["instances"][0]["status"] == served_order(FLEET)[0]["status"]


def test_requests_are_kept_per_route(emulator: Emulator, url: str) -> None:
    get(url, [("limit", "5")], path=INSTANCES_PATH)
    get(url, [], path=f"{INSTANCES_PATH}/{FLEET[0]['instance_id']}/restores")
    [listing] = emulator.instance_requests()
    [restores] = emulator.restore_requests()
    assert (listing.path, listing.query) == (INSTANCES_PATH, "limit=5")
    assert restores.path.endswith("/restores")


def test_without_a_fleet_the_project_holds_the_default_instance() -> None:
    with Emulator(generate_records(3)) as url:
        body = instances(url, [])
    [instance] = body["instances"]
    assert body["instance_num"] == 1
    assert instance["instance_id"] == DEFAULT_INSTANCE_ID
    assert instance["status"] == "RUNNING"
    assert VENDOR_TIME.match(instance["created_at"])


def test_restores_of_fleet_instances_are_served_per_instance() -> None:
    # Given a fleet of three with records for the first one only
    fleet = generate_fleet(3, seed=5)
    with Emulator({fleet[0]["instance_id"]: generate_records(4)}, instances=fleet) as url:

        def restores(instance_id: str) -> requests.Response:
            return get(url, [], path=f"/v2/{DEFAULT_PROJECT_ID}/instances/{instance_id}/restores")

        # Then the first lists its records, the second (in the fleet, never restored) has none, and
        # an instance of neither is unknown
        assert restores(fleet[0]["instance_id"]).json()["total_num"] == 4
        assert restores(fleet[1]["instance_id"]).status_code == 204
        unknown = restores("f0f0f0f0-0000-1111-2222-333344445555")
        assert (unknown.status_code, unknown.json()["error_code"]) == (404, "DCS.4204")


def test_drifted_instances_are_served_as_they_are_and_never_break_a_filter() -> None:
    # Given a fleet where some instances lack fields or hold them in the wrong type
    drifted: list[dict[str, Any]] = [
        {"instance_id": "no-fields-at-all"},
        {"instance_id": "odd-types", "name": 42, "tags": {"env": "prod"}, "created_at": "yesterday", "status": None},
        {"instance_id": "odd-tags", "name": "odd-cache", "tags": [{"key": "env"}, "env=prod", None]},
    ]
    fleet = [*generate_fleet(3), *drifted]
    with Emulator(instances=fleet) as url:
        every = instances(url, [])
        # Then every instance is listed as given, the undated ones last
        assert every["instances"][3:] == sorted(drifted, key=lambda instance: instance["instance_id"])
        # And filters simply do not match the fields they cannot read
        assert instances(url, [("name", "cache")])["instance_num"] == 4
        assert instances(url, [("tags", "env=prod")])["instance_num"] == sum(
            tags_of(instance).get("env") == "prod" for instance in fleet
        )
        running = Counter(instance.get("status") for instance in fleet)["RUNNING"]
        assert instances(url, [("status", "RUNNING")])["instance_num"] == running
