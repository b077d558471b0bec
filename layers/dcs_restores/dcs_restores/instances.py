"""DCS "List instances": which instances to ask for, the instances as they really arrive, and how pages merge.

A sweep discovers a project's fleet with these. The contract and its quirks are in the vendor's
ListInstances reference: fields missing, ``null`` or ``""`` in older instances, ``tags`` absent
or ``[]``, an open set of statuses (an unknown one is kept as it came).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_serializer, model_validator

from .listing import Listing, ListingResult, Merged, first_seen
from .models import OptionalText, OptionalTime, as_utc
from .pages import InvalidItem, PageFormat, Words
from .query import SAFE_ID_PATTERN, Limit, ListingQuery, Offset, SafeId

MAX_TAG_FILTERS = 20  # DCS tags an instance with at most 20
MAX_TAGS_FILTER_BYTES = 4096  # the tags filter as it goes into the URL, percent-encoded: gateways refuse long URLs
_NO_COMMA_OR_EQUALS = r"^[^,=\x00-\x1f\x7f]*$"  # the tags filter is "k=v,k2=v2": these would change its meaning
TagKey = Annotated[str, Field(min_length=1, max_length=128, pattern=_NO_COMMA_OR_EQUALS)]
TagValue = Annotated[str, Field(max_length=255, pattern=_NO_COMMA_OR_EQUALS)]


class InstanceQuery(ListingQuery):
    """A project's instances, filtered as DCS filters them; a single page when ``offset`` or ``limit`` is given."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    whole_model_field = "tags"

    project_id: SafeId
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = None
    name_equal: Annotated[bool, Field(strict=True)] = False  # exact match on ``name``; else DCS matches a part
    status: Annotated[str, Field(pattern=r"^[A-Z][A-Z_]{0,31}$")] | None = None
    # every pair must match
    tags: Annotated[dict[TagKey, TagValue], Field(default_factory=dict, max_length=MAX_TAG_FILTERS)]
    offset: Offset | None = None
    limit: Limit | None = None

    @model_validator(mode="after")
    def _tags_fit_a_url(self) -> Self:
        if len(quote(self._tags_filter(), safe="")) > MAX_TAGS_FILTER_BYTES:
            raise ValueError(f"the tags filter is longer than {MAX_TAGS_FILTER_BYTES} bytes in a URL")
        return self

    @property
    def path(self) -> str:
        return f"/v2/{self.project_id}/instances"

    def page_params(self, offset: int, limit: int) -> list[tuple[str, str]]:
        params = [("offset", str(offset)), ("limit", str(limit))]
        if self.name is not None:
            params.append(("name", self.name))
            if self.name_equal:
                params.append(("name_equal", "true"))
        if self.status is not None:
            params.append(("status", self.status))
        if self.tags:
            params.append(("tags", self._tags_filter()))
        return params

    def _tags_filter(self) -> str:
        return ",".join(f"{key}={value}" for key, value in self.tags.items())


def _tags_as_dict(value: Any) -> Any:
    """The vendor's ``[{"key": k, "value": v}]`` as ``{k: v}``; absent, null, ``{}`` or ``[]`` is no tags."""
    if value is None or value == [] or value == {}:
        return {}
    if not isinstance(value, list):
        raise ValueError("must be a list of {key, value}")
    tags: dict[str, str] = {}
    for tag in value:
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str) or not tag["key"]:
            raise ValueError("every tag needs a non-empty string key")
        tag_value = tag.get("value")
        if tag_value is not None and not isinstance(tag_value, str):
            raise ValueError(f"the value of tag {tag['key']!r} must be a string")
        tags[tag["key"]] = tag_value or ""
    return tags


class DcsInstance(BaseModel):
    """One element of ``instances``, validated: an ``instance_id`` fit for a URL, the rest may be missing."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    instance_id: Annotated[str, Field(pattern=SAFE_ID_PATTERN)]
    name: OptionalText = None
    engine: OptionalText = None
    engine_version: OptionalText = None
    status: OptionalText = None  # an open set: CREATING, RUNNING, ERROR, ... kept as it came
    created_at: OptionalTime = None
    tags: Annotated[dict[str, str], BeforeValidator(_tags_as_dict)] = {}
    enterprise_project_id: OptionalText = None

    @field_serializer("created_at")
    def _in_utc(self, moment: datetime | None) -> datetime | None:
        return None if moment is None else as_utc(moment)


class InvalidInstance(InvalidItem):
    """An instance DCS listed that failed validation: kept and reported, never silently dropped."""

    instance_id: str | None
    reason: str


class InstanceList(ListingResult):
    """Every instance read for one query (or one page)."""

    instances: list[DcsInstance]
    invalid: list[InvalidInstance] = Field(description="The first invalid instances, up to the client's cap.")
    repeated: int = Field(default=0, description="Listings of an instance listed before in the same listing, dropped.")

    @classmethod
    def of(cls, merged: Merged[DcsInstance, InvalidInstance], *, max_invalid: int) -> InstanceList:
        """The listing's instances; of its invalid ones, the first ``max_invalid`` are kept and all are counted."""
        return cls.model_construct(
            instances=merged.items,
            invalid=merged.invalid[:max_invalid],
            invalid_total=len(merged.invalid),
            total=merged.total,
            truncated=merged.truncated,
            repeated=merged.repeated,
        )


# An instance holds more objects than a record: up to 20 tags, and nested ones among its fifty-odd fields.
_WORDS = Words(items="instances", total="instance_num", noun="instances", page="an instances page")
_PAGES = PageFormat(DcsInstance, InvalidInstance, _WORDS, key="instance_id", objects_per_item=128)
INSTANCES = Listing(_PAGES, first_seen)
