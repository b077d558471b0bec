"""Turn one DCS response body into a page of validated items, keeping the bad ones as reports.

Restore records and instances arrive the same way: a list under one name and a count under another.
A :class:`PageFormat` says what differs (the names, the item model, the report of a bad item); reading
is the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from pydantic import AliasGenerator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from .errors import DcsInvalidResponseError


class InvalidItem(BaseModel):
    """An item DCS listed that failed validation: kept and reported, never silently dropped.

    Each kind names the item after the index (its ``key``, as far as it could be read), then says why.
    """

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position in the whole listing (offset + index in its page).")


class Words(NamedTuple):
    """How a listing names things: its list and its count in the body, and its items and pages in errors."""

    items: str
    total: str
    noun: str
    page: str


Item = TypeVar("Item", bound=BaseModel)
Bad = TypeVar("Bad", bound=InvalidItem)
_Model = TypeVar("_Model", bound=BaseModel)
# A count of items: a JSON integer, never negative ("40", 40.0 and true are not counts).
TotalNum = Annotated[int, Field(ge=0, strict=True)]
# A page of one item may still quote a few braces in its text fields: the least count of objects allowed.
_MIN_OBJECTS_ALLOWED = 1_000


class _Envelope(BaseModel, Generic[Item]):
    """The fast path: the whole page validated in one pydantic-core call.

    No validator runs on the list itself: one would make pydantic build every item as Python
    objects first, a third of the cost of a page. Anything unusual goes to the slow path.
    """

    items: list[Item] | None = None
    total: TotalNum


def _missing_list_is_empty(value: Any) -> Any:
    return [] if value is None or value == {} else value


class _RawEnvelope(BaseModel):
    """The slow path: lenient about the list ({} or null is empty), keeping every element as it came."""

    items: Annotated[list[Any], BeforeValidator(_missing_list_is_empty)] = []
    total: TotalNum


class _Total(BaseModel):
    total: TotalNum


def _named(base: type[_Model], names: dict[str, str]) -> type[_Model]:
    """``base`` reading its fields under the names one listing gives them in JSON (errors name them so too)."""
    return create_model(
        base.__name__,
        __base__=base,
        __cls_kwargs__={"alias_generator": AliasGenerator(validation_alias=names.__getitem__)},
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[Item, Bad]):
    """One page of a listing: its valid items in order, and the reports of the others."""

    offset: int
    total: int
    items: list[Item]
    invalid: list[Bad]

    @property
    def size(self) -> int:
        return len(self.items) + len(self.invalid)


class PageFormat(Generic[Item, Bad]):
    """How the pages of one DCS listing read."""

    def __init__(self, model: type[Item], invalid: type[Bad], words: Words, *, key: str, objects_per_item: int) -> None:
        """``model`` validates an item and ``invalid`` reports one that fails; ``key`` is the field that
        identifies an item; a body with more JSON objects per item asked for than ``objects_per_item`` is not
        such a page."""
        names = {"items": words.items, "total": words.total}
        self.model = model
        self.key = key
        self._invalid = invalid
        self._words = words
        self._objects_per_item = objects_per_item
        self._fast = _named(_Envelope[model], names)  # type: ignore[valid-type]  # the item model of this listing
        self._raw = _named(_RawEnvelope, names)
        self._total = _named(_Total, names)

    def report(self, index: int, key: str | None, reason: str) -> Bad:
        """The report of the item at ``index`` in the listing, named ``key`` (if it has a usable one)."""
        return self._invalid.model_validate({"index": index, self.key: key, "reason": reason})

    def peek_total(self, body: bytes) -> int:
        """The count alone, without building the items (0 if unreadable: ``parse`` will say why)."""
        try:
            return self._total.model_validate_json(body).total
        except ValidationError:
            return 0

    def parse(self, body: bytes, offset: int, request_id: str | None = None) -> Page[Item, Bad]:
        """Validate a 200 body. One bad item never fails the page; a bad envelope does."""
        try:
            page = self._fast.model_validate_json(body)
        except ValidationError:
            pass
        else:
            return Page(offset, page.total, _share_fields_sets(page.items or []), [])
        try:
            raw = self._raw.model_validate_json(body)
        except ValidationError as error:
            raise DcsInvalidResponseError(
                f"DCS body is not {self._words.page}: {summarise(error)}", status=200, request_id=request_id
            ) from None
        items, invalid = validate_each(raw.items, self.model, offset, self.key)
        reports = [self.report(index, key, reason) for index, key, reason in invalid]
        return Page(offset, raw.total, _share_fields_sets(items), reports)

    def read(self, status: int, body: bytes, request_id: str | None, offset: int, limit: int) -> Page[Item, Bad]:
        """The page DCS answered for ``limit`` items from ``offset`` (a 204 is an empty page); more items than
        asked is not a page, nor is a body with more JSON objects than that many items hold."""
        if status == 204:
            return Page(offset, 0, [], [])
        # Counted before anything is built (braces inside strings count too: hence a floor for small pages).
        if body.count(b"{") > max(self._objects_per_item * limit, _MIN_OBJECTS_ALLOWED) + 1:
            raise self._too_many(status, request_id, f"more JSON objects than that many {self._words.noun} hold", limit)
        page = self.parse(body, offset, request_id)
        if page.size > limit:
            raise self._too_many(status, request_id, f"{page.size} {self._words.noun}", limit)
        return page

    @staticmethod
    def _too_many(status: int, request_id: str | None, what: str, limit: int) -> DcsInvalidResponseError:
        return DcsInvalidResponseError(
            f"DCS sent {what} when {limit} were asked for", status=status, request_id=request_id
        )


def validate_each(
    items: list[Any], model: type[Item], offset: int, key: str
) -> tuple[list[Item], list[tuple[int, str | None, str]]]:
    """Each item validated alone: the valid ones, and the others as (place in the listing, their ``key``, why)."""
    valid: list[Item] = []
    invalid: list[tuple[int, str | None, str]] = []
    for index, item in enumerate(items):
        try:
            valid.append(model.model_validate(item))
        except ValidationError as error:
            named = item.get(key) if isinstance(item, dict) else None
            invalid.append((offset + index, named if isinstance(named, str) and named else None, summarise(error)))
    return valid, invalid


def _share_fields_sets(items: list[Item]) -> list[Item]:
    """Let items that were given the same fields share one set of their names.

    pydantic keeps that set per instance: 0.7 kB of a record's 1.8 kB, and the items of a page
    nearly always have the same one. Items are frozen, so pydantic never changes the set (a
    copy gets its own); sharing it took a 100,000-record window's records from 175 to 105 MiB.
    """
    previous: set[str] | None = None
    for item in items:
        fields = item.__pydantic_fields_set__
        if fields == previous:
            object.__setattr__(item, "__pydantic_fields_set__", previous)
        else:
            previous = fields
    return items


def summarise(error: ValidationError) -> str:
    """One message per field (the first), without the union members pydantic tried."""
    reasons: dict[str, str] = {}
    for detail in error.errors(include_url=False):
        field = str(detail["loc"][0]) if detail["loc"] else "body"
        reasons.setdefault(field, str(detail["msg"]))
    return "; ".join(f"{field}: {message}" for field, message in reasons.items())
