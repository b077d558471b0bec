"""A whole DCS listing from its pages: each item once, in the listing's order, kept by its kind's rule.

An item listed on two pages moved while the listing was paged (a restore advanced, an instance was
pushed along by a new one). Which of the two listings is kept is the kind's :data:`MergeRule`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Generic

from pydantic import BaseModel, ConfigDict, Field

from .pages import Bad, Item, Page, PageFormat

MergeRule = Callable[[Item, Item], "Item | str"]
"""Of an item listed first and listed again, the one to keep, or why the two contradict each other."""


def first_seen(seen: Item, again: Item) -> Item:
    """The rule of a listing whose later listings tell nothing new: the first one stays."""
    return seen


@dataclass(frozen=True, slots=True)
class Merged(Generic[Item, Bad]):
    """A listing read to its end (or its cap)."""

    items: list[Item]
    invalid: list[Bad]  # every report, in the listing's order (the result keeps the first ones)
    total: int  # the largest count DCS gave while paging
    truncated: bool  # DCS listed more than the cap: the rest were not read
    repeated: int  # listings of an item listed before, dropped


class ListingResult(BaseModel):
    """What reading a listing (or one page of it) tells besides its items; each kind adds its items under its
    own names."""

    model_config = ConfigDict(frozen=True)

    invalid_total: int = Field(description="Every invalid item seen, kept or not.")
    total: int = Field(description="The count DCS reported (the largest seen while paging).")
    truncated: bool = Field(description="DCS listed more than the client's cap; the rest were not read.")


class Listing(Generic[Item, Bad]):
    """One kind of DCS listing: how its pages read, and which of two listings of one item it keeps."""

    def __init__(self, pages: PageFormat[Item, Bad], rule: MergeRule[Item]) -> None:
        self.pages = pages
        self._rule = rule
        self._key_of: Callable[[Item], str] = attrgetter(pages.key)

    def merge(self, pages: list[Page[Item, Bad]], *, cap: int | None = None) -> Merged[Item, Bad]:
        """The pages (in the listing's order) as one listing, each item once at its first place.

        ``cap``: the most items a whole listing keeps (``truncated`` beyond it). Items whose listings
        contradict each other are reported, not kept.
        """
        chosen: dict[str, Item] = {}  # a replaced value keeps the key's first place
        contradicted: dict[str, Bad] = {}
        invalid: list[Bad] = []
        key_of, rule = self._key_of, self._rule  # looked up once: this loop runs once per item of the window
        for page in pages:
            invalid.extend(page.invalid)
            for position, item in enumerate(page.items):
                key = key_of(item)
                seen = chosen.get(key)
                if seen is None:
                    chosen[key] = item
                    continue
                kept = rule(seen, item)
                if isinstance(kept, str):
                    contradicted.setdefault(key, self.pages.report(_listing_index(page, position), key, kept))
                elif kept is not seen:
                    chosen[key] = kept
        items = [item for key, item in chosen.items() if key not in contradicted]
        total = max((page.total for page in pages), default=0)
        return Merged(
            items=items if cap is None else items[:cap],
            invalid=sorted([*invalid, *contradicted.values()], key=lambda bad: bad.index),
            total=total,
            truncated=cap is not None and (total > cap or len(items) > cap),
            repeated=sum(len(page.items) for page in pages) - len(chosen),
        )


def _listing_index(page: Page[Item, Bad], position: int) -> int:
    """Where the ``position``-th valid item of ``page`` stood in the listing (its invalid ones had places too)."""
    taken = {bad.index for bad in page.invalid}
    places = (index for index in itertools.count(page.offset) if index not in taken)
    return next(itertools.islice(places, position, None))
