"""The vendor's own SDK accepts our emulator: it signs as DCS expects and parses what it serves."""

from collections.abc import Iterator
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkdcs.v2 import DcsClient, ListInstancesRequest, ListRestoreRecordsRequest

from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator, Scripted
from devkit.fleet import tags_of
from devkit.seed import generate_fleet, generate_fleet_records, generate_records, load_fixture

FLEET = generate_fleet(60)


def sdk_client(url: str, sk: str = DEFAULT_SK) -> DcsClient:
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    return (
        DcsClient.new_builder()
        .with_credentials(BasicCredentials(DEFAULT_AK, sk, DEFAULT_PROJECT_ID))
        .with_endpoints([url])
        .with_http_config(config)
        .build()
    )


@pytest.fixture
def seeded() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator([*generate_records(30), *load_fixture()])
    with emulator as url:
        yield emulator, url


def test_the_official_sdk_reads_a_page_from_the_emulator(seeded: tuple[Emulator, str]) -> None:
    emulator, url = seeded
    # When the SDK asks for a window, as its users would
    request = ListRestoreRecordsRequest(
        instance_id=DEFAULT_INSTANCE_ID, begin_time="20170101000000", end_time="20241231235959", offset=0, limit=50
    )
    response = sdk_client(url).list_restore_records(request)
    # Then its signature was accepted and it parses every record, the vendor's quirky example included
    assert response.total_num == 31
    assert len(response.restore_record_response) == 31
    example = response.restore_record_response[-1]
    assert example.restore_id == "a6155972-800c-4170-a479-3231e907d2f6"
    assert example.progress == "100.00"
    # And the emulator saw the SDK's own headers
    [received] = emulator.restore_requests()
    assert received.headers["user-agent"].startswith("huaweicloud-usdk-python")


def test_the_official_sdk_gets_401_for_a_wrong_key(seeded: tuple[Emulator, str]) -> None:
    _, url = seeded
    with pytest.raises(ClientRequestException) as raised:
        sdk_client(url, sk="wrong").list_restore_records(ListRestoreRecordsRequest(instance_id=DEFAULT_INSTANCE_ID))
    assert raised.value.status_code == 401
    assert raised.value.error_code == "APIGW.0301"


def test_the_official_sdk_sees_204_as_no_records(seeded: tuple[Emulator, str]) -> None:
    _, url = seeded
    request = ListRestoreRecordsRequest(instance_id=DEFAULT_INSTANCE_ID, begin_time="20300101000000")
    response = sdk_client(url).list_restore_records(request)
    assert response.status_code == 204
    assert not response.restore_record_response


@pytest.fixture
def fleet() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(generate_fleet_records(FLEET[:3], 2), instances=FLEET)
    with emulator as url:
        yield emulator, url


def served(instances: list[dict[str, Any]]) -> list[str]:
    """Instance IDs in the order the emulator serves them (oldest first)."""
    return [instance["instance_id"] for instance in sorted(instances, key=lambda item: item["created_at"])]


def test_the_official_sdk_lists_a_page_of_instances(fleet: tuple[Emulator, str]) -> None:
    emulator, url = fleet
    # When the SDK lists instances with no parameters, as its users would
    response = sdk_client(url).list_instances(ListInstancesRequest())
    # Then its signature was accepted, the default page of 10 came back and instance_num counts them all
    assert response.instance_num == 60
    assert [instance.instance_id for instance in response.instances] == served(FLEET)[:10]
    # And every field a watcher needs parses into the SDK's model
    first = response.instances[0]
    expected = next(instance for instance in FLEET if instance["instance_id"] == first.instance_id)
    assert (first.name, first.engine, first.engine_version, first.status) == (
        expected["name"],
        expected["engine"],
        expected["engine_version"],
        expected["status"],
    )
    assert first.created_at == expected["created_at"]
    assert {tag.key: tag.value for tag in first.tags} == tags_of(expected)
    assert (first.enterprise_project_id, first.spec_code, first.capacity) == (
        expected["enterprise_project_id"],
        expected["spec_code"],
        expected["capacity"],
    )
    assert first.az_codes == expected["az_codes"]
    [received] = emulator.instance_requests()
    assert received.headers["user-agent"].startswith("huaweicloud-usdk-python")


def test_the_official_sdk_pages_through_every_instance(fleet: tuple[Emulator, str]) -> None:
    _, url = fleet
    client = sdk_client(url)
    read: list[str] = []
    while True:
        response = client.list_instances(ListInstancesRequest(offset=len(read), limit=25))
        read.extend(instance.instance_id for instance in response.instances)
        if not response.instances or len(read) >= response.instance_num:
            break
    assert read == served(FLEET)


@pytest.mark.parametrize(
    ("request_fields", "matches"),
    [
        ({"name": "orders"}, lambda instance: "orders" in instance["name"]),
        ({"name": FLEET[11]["name"], "name_equal": "true"}, lambda instance: instance["name"] == FLEET[11]["name"]),
        ({"status": "ERROR"}, lambda instance: instance["status"] == "ERROR"),
        ({"tags": "env=prod,team=checkout"}, lambda instance: tags_of(instance) == {"env": "prod", "team": "checkout"}),
        ({"instance_id": FLEET[30]["instance_id"]}, lambda instance: instance is FLEET[30]),
        ({"include_failure": "true", "include_delete": "true"}, lambda instance: True),
    ],
    ids=["name", "name_equal", "status", "tags", "instance_id", "include_failure_and_delete"],
)
def test_the_official_sdk_filters_instances(
    fleet: tuple[Emulator, str], request_fields: dict[str, str], matches: Any
) -> None:
    _, url = fleet
    expected = served([instance for instance in FLEET if matches(instance)])
    assert expected
    response = sdk_client(url).list_instances(ListInstancesRequest(limit=1000, **request_fields))
    assert response.instance_num == len(expected)
    assert [instance.instance_id for instance in response.instances] == expected


def test_the_official_sdk_gets_the_documented_400_for_a_bad_limit(fleet: tuple[Emulator, str]) -> None:
    _, url = fleet
    with pytest.raises(ClientRequestException) as raised:
        sdk_client(url).list_instances(ListInstancesRequest(limit=1001))
    assert (raised.value.status_code, raised.value.error_code) == (400, "DCS.4800")


def test_the_official_sdk_gets_401_listing_instances_with_a_wrong_key(fleet: tuple[Emulator, str]) -> None:
    _, url = fleet
    with pytest.raises(ClientRequestException) as raised:
        sdk_client(url, sk="wrong").list_instances(ListInstancesRequest())
    assert (raised.value.status_code, raised.value.error_code) == (401, "APIGW.0301")


def test_the_official_sdk_reads_a_scripted_error_on_the_instances_route(fleet: tuple[Emulator, str]) -> None:
    emulator, url = fleet
    emulator.script(Scripted(status=403))
    with pytest.raises(ClientRequestException) as raised:
        sdk_client(url).list_instances(ListInstancesRequest())
    assert (raised.value.status_code, raised.value.error_code) == (403, "APIGW.0305")


def test_the_official_sdk_reads_the_restores_of_a_fleet_instance(fleet: tuple[Emulator, str]) -> None:
    _, url = fleet
    request = ListRestoreRecordsRequest(instance_id=FLEET[2]["instance_id"], begin_time="20240101000000")
    response = sdk_client(url).list_restore_records(request)
    assert response.total_num == 2
