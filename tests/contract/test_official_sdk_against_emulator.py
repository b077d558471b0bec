"""The vendor's own SDK accepts our emulator: it signs as DCS expects and parses what it serves."""

from collections.abc import Iterator

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkdcs.v2 import DcsClient, ListRestoreRecordsRequest

from devkit.emulator import DEFAULT_AK, DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from devkit.seed import generate_records, load_fixture


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
