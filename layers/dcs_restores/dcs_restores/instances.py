"""DCS "List instances": which instances to ask for, and the instances as they really arrive.

A sweep discovers a project's fleet with these. The contract and its quirks are in the vendor's
ListInstances reference: fields missing, ``null`` or ``""`` in older instances, ``tags`` absent
or ``[]``, an open set of statuses (an unknown one is kept as it came).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Self
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_serializer, model_validator

from .errors import DcsInvalidResponseError, InvalidQueryError
from .models import OptionalText, OptionalTime, as_utc
from .pages import TotalNum, summarise, validate_each
from .query import MAX_OFFSET, MAX_PAGE_SIZE, SAFE_ID_PATTERN, SafeId, first_error

MAX_TAG_FILTERS = 20  # DCS tags an instance with at most 20
MAX_TAGS_FILTER_BYTES = 4096  # the tags filter as it goes into the URL, percent-encoded: gateways refuse long URLs
_NO_COMMA_OR_EQUALS = r"^[^,=\x00-\x1f\x7f]*$"  # the tags filter is "k=v,k2=v2": these would change its meaning
TagKey = Annotated[str, Field(min_length=1, max_length=128, pattern=_NO_COMMA_OR_EQUALS)]
TagValue = Annotated[str, Field(max_length=255, pattern=_NO_COMMA_OR_EQUALS)]


class InstanceQuery(BaseModel):
    """A project's instances, filtered as DCS filters them; a single page when ``offset`` or ``limit`` is given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_id: SafeId
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = None
    name_equal: Annotated[bool, Field(strict=True)] = False  # exact match on ``name``; else DCS matches a part
    status: Annotated[str, Field(pattern=r"^[A-Z][A-Z_]{0,31}$")] | None = None
    tags: Annotated[dict[TagKey, TagValue], Field(max_length=MAX_TAG_FILTERS)] = {}  # every pair must match
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, strict=True)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, strict=True)] | None = None

    @model_validator(mode="after")
    def _tags_fit_a_url(self) -> Self:
        if len(quote(self._tags_filter(), safe="")) > MAX_TAGS_FILTER_BYTES:
            raise ValueError(f"the tags filter is longer than {MAX_TAGS_FILTER_BYTES} bytes in a URL")
        return self

    @classmethod
    def of(cls, **fields: Any) -> Self:
        """Build a query, turning any validation failure into :class:`InvalidQueryError`."""
        try:
            return cls.model_validate(fields)
        except ValidationError as error:
            raise InvalidQueryError(*first_error(error.errors(include_url=False), "tags")) from None

    @property
    def single_page(self) -> bool:
        return self.offset is not None or self.limit is not None

    @property
    def path(self) -> str:
        return f"/v2/{self.project_id}/instances"

    def page_params(self, offset: int, limit: int) -> list[tuple[str, str]]:
        """The query pairs DCS receives for one page of the listing."""
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


class InvalidInstance(BaseModel):
    """An instance DCS listed that failed validation: kept and reported, never silently dropped."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position in the whole listing (offset + index in its page).")
    instance_id: str | None
    reason: str


class InstanceList(BaseModel):
    """Every instance read for one query (or one page)."""

    model_config = ConfigDict(frozen=True)

    instances: list[DcsInstance]
    invalid: list[InvalidInstance] = Field(description="The first invalid instances, up to the client's cap.")
    invalid_total: int = Field(description="Every invalid instance seen, kept or not.")
    total: int = Field(description="instance_num as DCS reported it (the largest seen while paging).")
    truncated: bool = Field(description="DCS listed more instances than the client's cap; the rest were not read.")
    repeated: int = Field(default=0, description="Listings of an instance listed before in the same listing, dropped.")


class _Page(BaseModel):
    instances: list[DcsInstance] | None = None
    instance_num: TotalNum


class _RawPage(BaseModel):
    instances: Annotated[list[Any], BeforeValidator(lambda value: [] if value is None or value == {} else value)] = []
    instance_num: TotalNum


class _Total(BaseModel):
    instance_num: TotalNum


@dataclass(frozen=True, slots=True)
class InstancePage:
    offset: int
    total: int
    instances: list[DcsInstance]
    invalid: list[InvalidInstance]

    @property
    def size(self) -> int:
        return len(self.instances) + len(self.invalid)


def peek_instance_num(body: bytes) -> int:
    """``instance_num`` alone (0 if unreadable: ``parse_instance_page`` will say why)."""
    try:
        return _Total.model_validate_json(body).instance_num
    except ValidationError:
        return 0


def parse_instance_page(body: bytes, offset: int, request_id: str | None = None) -> InstancePage:
    """Validate a 200 body. One bad instance never fails the page; a bad envelope does."""
    try:
        page = _Page.model_validate_json(body)
    except ValidationError:
        pass
    else:
        return InstancePage(offset, page.instance_num, page.instances or [], [])
    try:
        raw = _RawPage.model_validate_json(body)
    except ValidationError as error:
        raise DcsInvalidResponseError(
            f"DCS body is not an instances page: {summarise(error)}", status=200, request_id=request_id
        ) from None
    instances, invalid = validate_each(raw.instances, DcsInstance, offset, "instance_id")
    reports = [InvalidInstance(index=index, instance_id=key, reason=reason) for index, key, reason in invalid]
    return InstancePage(offset, raw.instance_num, instances, reports)


def merge_instance_pages(pages: list[InstancePage], max_invalid: int, *, cap: int | None = None) -> InstanceList:
    """The listing in order, each instance once (one listed on two pages moved while the fleet was paged).

    ``cap``: the most instances a whole listing keeps (``truncated`` beyond it); a single page has none.
    """
    seen: dict[str, DcsInstance] = {}
    invalid: list[InvalidInstance] = []
    for page in pages:
        invalid.extend(page.invalid)
        for instance in page.instances:
            seen.setdefault(instance.instance_id, instance)
    total = max((page.total for page in pages), default=0)
    instances = list(seen.values())
    truncated = cap is not None and (total > cap or len(instances) > cap)
    return InstanceList.model_construct(
        instances=instances if cap is None else instances[:cap],
        invalid=invalid[:max_invalid],
        invalid_total=len(invalid),
        total=total,
        truncated=truncated,
        repeated=sum(len(page.instances) for page in pages) - len(instances),
    )
