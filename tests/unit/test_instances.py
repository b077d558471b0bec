"""The instances of a DCS listing as they really arrive: drift tolerated, bad ones reported, the query's pairs."""

import json
from typing import Any

import pytest

from dcs_restores import DcsInvalidResponseError, InstanceQuery, InvalidQueryError
from dcs_restores.instances import INSTANCES, InstanceList

parse_instance_page = INSTANCES.pages.parse

VENDOR_INSTANCE = {
    "instance_id": "a1b2c3d4-0000-1111-2222-333344445555",
    "name": "orders-cache",
    "engine": "Redis",
    "engine_version": "6.0",
    "status": "RUNNING",
    "created_at": "2023-05-10T08:12:44.120Z",
    "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": None}],
    "enterprise_project_id": "0",
    "spec_code": "redis.ha.xu1.large.r2.2",
    "capacity": 2,
    "az_codes": ["cn-north-4a", "cn-north-4b"],
    "description": "",
}


def body(instances: list[Any], total: int | None = None) -> bytes:
    return json.dumps({"instance_num": len(instances) if total is None else total, "instances": instances}).encode()


def test_the_vendor_shape_is_read_with_tags_as_a_mapping_and_times_in_utc() -> None:
    [instance] = parse_instance_page(body([VENDOR_INSTANCE]), 0).items
    assert instance.tags == {"env": "prod", "team": ""}
    assert instance.created_at is not None
    assert instance.created_at.utcoffset() is not None
    assert instance.model_dump(mode="json")["created_at"] == "2023-05-10T08:12:44.120000Z"
    assert (instance.engine, instance.engine_version, instance.enterprise_project_id) == ("Redis", "6.0", "0")


@pytest.mark.parametrize("empty", [None, "", {}])
def test_older_instances_with_fields_missing_null_or_empty_are_kept(empty: Any) -> None:
    sparse = {"instance_id": "i-1", "name": empty, "engine": empty, "status": empty, "created_at": empty, "tags": None}
    [instance] = parse_instance_page(body([sparse, {"instance_id": "i-2"}]), 0).items[:1]
    assert (instance.name, instance.engine, instance.status, instance.created_at, instance.tags) == (
        None,
        None,
        None,
        None,
        {},
    )


def test_an_unknown_status_is_kept_as_it_came() -> None:
    [instance] = parse_instance_page(body([{**VENDOR_INSTANCE, "status": "MIGRATING"}]), 0).items
    assert instance.status == "MIGRATING"


def test_one_bad_instance_is_reported_by_place_and_never_fails_the_page() -> None:
    listed = [
        VENDOR_INSTANCE,
        {**VENDOR_INSTANCE, "instance_id": "../../restores"},  # would change the URL of its watch
        {"name": "no id"},
        {**VENDOR_INSTANCE, "instance_id": "i-4", "tags": [{"value": "x"}]},
        "not an object",
        {**VENDOR_INSTANCE, "instance_id": "i-6"},
    ]
    page = parse_instance_page(body(listed), 100)
    assert [instance.instance_id for instance in page.items] == [VENDOR_INSTANCE["instance_id"], "i-6"]
    assert [(bad.index, bad.instance_id) for bad in page.invalid] == [
        (101, "../../restores"),
        (102, None),
        (103, "i-4"),
        (104, None),
    ]
    assert "instance_id" in page.invalid[0].reason
    assert "tags" in page.invalid[2].reason


@pytest.mark.parametrize(
    "raw",
    [b"[]", b'{"instances": []}', b'{"instance_num": -1, "instances": []}', b'{"instance_num": "2"}', b"nope"],
)
def test_a_bad_envelope_is_an_invalid_response(raw: bytes) -> None:
    with pytest.raises(DcsInvalidResponseError, match="not an instances page"):
        parse_instance_page(raw, 0)


def test_a_missing_or_null_list_is_an_empty_page() -> None:
    assert parse_instance_page(b'{"instance_num": 0}', 0).items == []
    assert parse_instance_page(b'{"instance_num": 0, "instances": null}', 0).items == []


def test_merging_keeps_listing_order_each_instance_once_and_caps_loudly() -> None:
    first = parse_instance_page(body([{"instance_id": f"i-{n}"} for n in range(3)], total=5), 0)
    second = parse_instance_page(body([{"instance_id": "i-2"}, {"instance_id": "i-3"}, {"instance_id": "i-4"}], 5), 3)
    merged = InstanceList.of(INSTANCES.merge([first, second], cap=4), max_invalid=10)
    assert [instance.instance_id for instance in merged.instances] == ["i-0", "i-1", "i-2", "i-3"]
    assert (merged.total, merged.truncated) == (5, True)
    whole = InstanceList.of(INSTANCES.merge([first, second], cap=5), max_invalid=10)
    assert ([i.instance_id for i in whole.instances][-1], whole.truncated) == ("i-4", False)


def test_merging_keeps_the_first_invalid_instances_and_counts_all() -> None:
    page = parse_instance_page(body([{"name": n} for n in "abc"]), 0)
    merged = InstanceList.of(INSTANCES.merge([page]), max_invalid=2)
    assert (len(merged.invalid), merged.invalid_total) == (2, 3)


def test_a_query_sends_every_filter_as_dcs_reads_it() -> None:
    query = InstanceQuery.of(
        project_id="p", name="orders", name_equal=True, status="RUNNING", tags={"env": "prod", "team": "a b"}
    )
    assert query.page_params(0, 1000) == [
        ("offset", "0"),
        ("limit", "1000"),
        ("name", "orders"),
        ("name_equal", "true"),
        ("status", "RUNNING"),
        ("tags", "env=prod,team=a b"),
    ]
    assert not query.single_page
    assert InstanceQuery.of(project_id="p").page_params(10, 10) == [("offset", "10"), ("limit", "10")]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"project_id": "a/b"}, "project_id"),
        ({"name": "x\n"}, "name"),
        ({"tags": {"k": "v=w"}}, "tags.k"),
        ({"tags": {f"k{n}": "v" for n in range(21)}}, "tags"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"name_equal": "yes"}, "name_equal"),
    ],
)
def test_a_bad_query_names_its_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidQueryError) as refused:
        InstanceQuery.of(**{"project_id": "p", **fields})
    assert refused.value.field == field


def test_a_tags_filter_too_long_for_a_url_is_refused_before_dcs() -> None:
    wide = {f"k{index}": "\u540d" * 200 for index in range(3)}  # 200 characters, 1,800 bytes encoded, each
    with pytest.raises(InvalidQueryError) as refused:
        InstanceQuery.of(project_id="p", tags=wide)
    assert refused.value.field == "tags"
    assert InstanceQuery.of(project_id="p", tags=dict(list(wide.items())[:2])).tags


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"project_id": "a/b"}, "must be 1-64 letters, digits, '-' or '_'"),
        ({"status": "running"}, "holds characters that are not allowed here"),
        ({"tags": {"env": "a,b"}}, "holds characters that are not allowed here"),
    ],
)
def test_a_pattern_refusal_says_what_the_field_allows(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidQueryError) as refused:
        InstanceQuery.of(**{"project_id": "p", **fields})
    assert refused.value.reason == reason
