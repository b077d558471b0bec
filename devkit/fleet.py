"""The emulator's fleet: vendor-shaped instances, filtered as DCS "List instances" filters them.

Instances are kept as given (any drift included) and served in a stable order: oldest
``created_at`` first, then ``instance_id``; an instance whose ``created_at`` cannot be read comes
last. A filter never fails on a drifted instance: a field that is missing or of the wrong type
simply does not match.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_INSTANCE_NAME = "orders-cache"


def default_instance(instance_id: str) -> dict[str, Any]:
    """The one instance a fleet holds when none is given: the vendor's own example."""
    return {
        "instance_id": instance_id,
        "name": DEFAULT_INSTANCE_NAME,
        "engine": "Redis",
        "engine_version": "6.0",
        "status": "RUNNING",
        "created_at": "2023-05-10T08:12:44.120Z",
        "tags": [{"key": "env", "value": "prod"}],
        "enterprise_project_id": "0",
        "spec_code": "redis.ha.xu1.large.r2.2",
        "capacity": 2,
        "az_codes": ["cn-north-4a", "cn-north-4b"],
        "description": "",
    }


@dataclass(frozen=True, slots=True)
class Member:
    """An instance as served: its JSON encoded once."""

    record: dict[str, Any]
    encoded: bytes


@dataclass(frozen=True)
class InstanceFilter:
    """The query parameters of ``GET /v2/{project_id}/instances`` that choose instances."""

    name: str | None = None
    name_equal: bool = False
    status: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    instance_id: str | None = None
    ip: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> InstanceFilter:
        """The filter a query asks for; ``ValueError`` naming the parameter when one is malformed.

        ``include_failure`` and ``include_delete`` are checked and accepted: the fleet holds
        exactly the instances it was given, so there is nothing they could add.
        """
        for flag in ("include_failure", "include_delete"):
            _flag(params, flag)
        tags = _tags(params["tags"]) if "tags" in params else {}
        return cls(
            name=params.get("name") or None,
            name_equal=_flag(params, "name_equal"),
            status=params.get("status") or None,
            tags=tags,
            instance_id=params.get("instance_id") or None,
            ip=params.get("ip") or None,
        )

    def matches(self, instance: dict[str, Any]) -> bool:
        name = instance.get("name")
        if self.name is not None:
            if not isinstance(name, str):
                return False
            # Case-sensitive, as the vendor compares: a substring unless name_equal asks for the whole name.
            if not (name == self.name if self.name_equal else self.name in name):
                return False
        if self.status is not None and instance.get("status") != self.status:
            return False
        if self.instance_id is not None and instance.get("instance_id") != self.instance_id:
            return False
        if self.ip is not None and instance.get("ip") != self.ip:
            return False
        if self.tags:
            held = tags_of(instance)
            return all(held.get(key) == value for key, value in self.tags.items())
        return True


NO_FILTER = InstanceFilter()


class Fleet:
    """The instances of the emulated project, in the order they are served."""

    def __init__(self, instances: Iterable[dict[str, Any]]) -> None:
        self._members = sorted(
            (Member(instance, json.dumps(instance).encode()) for instance in instances), key=_served_order
        )
        self._ids = frozenset(str(member.record.get("instance_id")) for member in self._members)

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._ids

    def select(self, wanted: InstanceFilter) -> list[Member]:
        if wanted == NO_FILTER:
            return list(self._members)
        return [member for member in self._members if wanted.matches(member.record)]


def tags_of(instance: dict[str, Any]) -> dict[str, str]:
    """An instance's tags (the vendor's list of ``{key, value}``) as a dict; entries of another shape are skipped."""
    tags = instance.get("tags")
    if not isinstance(tags, list):
        return {}
    return {
        tag["key"]: tag["value"]
        for tag in tags
        if isinstance(tag, dict) and isinstance(tag.get("key"), str) and isinstance(tag.get("value"), str)
    }


def _flag(params: dict[str, str], name: str) -> bool:
    raw = params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise ValueError(f"Invalid {name}: expected true or false.")
    return raw == "true"


def _tags(raw: str) -> dict[str, str]:
    """``k=v,k2=v2`` as a dict: every pair needs a key, an ``=`` and no second ``=``."""
    tags: dict[str, str] = {}
    for pair in raw.split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key or "=" in value:
            raise ValueError("Invalid tags: expected key=value pairs separated by commas.")
        tags[key] = value
    return tags


def _served_order(member: Member) -> tuple[int, datetime, str]:
    created = created_at(member.record)
    undated = created is None
    return (undated, created or datetime.min.replace(tzinfo=UTC), str(member.record.get("instance_id")))


def created_at(item: dict[str, Any]) -> datetime | None:
    """An instance's or a record's ``created_at`` as DCS writes it ("...Z"), in UTC; None if absent or unreadable."""
    value = item.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
