"""Seeded fleets: the same for the same seed, varied like a real project, and served by the emulator."""

import re
from collections import Counter

import pytest

from dcs_restores import Credentials, DcsRestoresClient
from devkit.emulator import DEFAULT_AK, DEFAULT_SK, Emulator
from devkit.fleet import tags_of
from devkit.seed import OLDER_INSTANCE_EVERY, generate_fleet, generate_fleet_records

from ..support import window_query

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
UUID_LIKE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_the_same_seed_gives_the_same_fleet_and_another_seed_another() -> None:
    assert generate_fleet(40) == generate_fleet(40)
    assert generate_fleet(40, seed=9) == generate_fleet(40, seed=9)
    ids = {instance["instance_id"] for instance in generate_fleet(40)}
    assert ids.isdisjoint(instance["instance_id"] for instance in generate_fleet(40, seed=9))


def test_a_larger_fleet_starts_with_the_smaller_one() -> None:
    assert generate_fleet(100)[:20] == generate_fleet(20)


def test_ids_are_unique_uuids_that_pass_the_instance_id_pattern() -> None:
    fleet = generate_fleet(2000, seed=4)
    ids = [instance["instance_id"] for instance in fleet]
    assert len(set(ids)) == len(ids)
    assert all(UUID_LIKE.match(instance_id) and SAFE_ID.match(instance_id) for instance_id in ids)


@pytest.mark.parametrize("seed", [0, 1, 17])
def test_a_fleet_holds_several_engines_and_statuses_mostly_running(seed: int) -> None:
    fleet = generate_fleet(60, seed=seed)
    engines = {(instance["engine"], instance["engine_version"]) for instance in fleet}
    assert engines == {("Redis", "5.0"), ("Redis", "6.0"), ("Redis", "7.0"), ("Memcached", "1.5")}
    statuses = Counter(instance["status"] for instance in fleet)
    assert set(statuses) == {"RUNNING", "RESTARTING", "ERROR", "FROZEN", "CREATING"}
    assert statuses["RUNNING"] > len(fleet) / 2
    # any 20 consecutive instances hold every status
    assert {instance["status"] for instance in fleet[33:53]} == set(statuses)


def test_instances_are_tagged_with_an_environment_and_a_team() -> None:
    fleet = generate_fleet(60)
    tagged = [tags_of(instance) for instance in fleet if instance["tags"]]
    assert {tags["env"] for tags in tagged} == {"prod", "staging", "dev"}
    assert all(set(tags) == {"env", "team"} and tags["team"] for tags in tagged)
    assert len({tags["team"] for tags in tagged}) > 2


def test_one_instance_in_25_has_the_quirks_of_an_older_instance() -> None:
    fleet = generate_fleet(50)
    older = [index for index, instance in enumerate(fleet) if instance["tags"] == []]
    assert older == [OLDER_INSTANCE_EVERY - 1, 2 * OLDER_INSTANCE_EVERY - 1]
    assert all(fleet[index]["description"] is None for index in older)


def test_names_say_the_service_and_the_index_and_creation_is_oldest_first() -> None:
    fleet = generate_fleet(12)
    assert all(re.fullmatch(rf"[a-z]+-cache-{index:03d}", instance["name"]) for index, instance in enumerate(fleet))
    created = [instance["created_at"] for instance in fleet]
    assert created == sorted(created)
    assert len(set(created)) == len(created)


def test_an_empty_fleet_is_allowed_and_a_negative_one_is_not() -> None:
    assert generate_fleet(0) == []
    with pytest.raises(ValueError, match="count"):
        generate_fleet(-1)


def test_fleet_records_give_every_instance_its_own_restores() -> None:
    fleet = generate_fleet(6)
    records = generate_fleet_records(fleet, 10, failed_every=4)
    assert list(records) == [instance["instance_id"] for instance in fleet]
    assert all(len(items) == 10 for items in records.values())
    assert all(sum(record["status"] == "failed" for record in items) == 2 for items in records.values())
    restore_ids = [record["restore_id"] for items in records.values() for record in items]
    assert len(set(restore_ids)) == len(restore_ids)
    assert generate_fleet_records(fleet, 10, failed_every=4) == records


def test_the_client_reads_the_restores_of_any_instance_of_a_seeded_fleet() -> None:
    # Given the emulator serving a seeded fleet with its records
    fleet = generate_fleet(5, seed=2)
    records = generate_fleet_records(fleet, 8)
    with (
        Emulator(records, instances=fleet) as url,
        DcsRestoresClient(url, Credentials(DEFAULT_AK, DEFAULT_SK)) as client,
    ):
        # When the client reads the last instance's window
        instance_id = fleet[-1]["instance_id"]
        result = client.list_restores(window_query(instance_id=instance_id))
    # Then it gets that instance's records
    assert sorted(record.restore_id for record in result.records) == sorted(
        record["restore_id"] for record in records[instance_id]
    )
