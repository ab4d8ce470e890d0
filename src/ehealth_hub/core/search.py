"""Value types of a FHIR search (R4 4.0.1, search.html) shared by api/, services/ and the stores.

The API parses a query string into these (:mod:`ehealth_hub.api.search`), the services pass them
on, and the stores turn them into SQL (:mod:`ehealth_hub.store.search`):

* :class:`DateBound`: one ``date`` parameter value, its prefix and the range its precision covers
  (``2026-12`` is ``[2026-12-01, 2027-01-01)``); repetitions are ANDed (``ge..&le..`` = a range);
* :class:`Position`: where a page ends in the sort order (sort key, then a unique tie-break), the
  keyset a cursor names; :class:`PageRequest`: how many, in which order, after or before which
  position; :class:`Page`: the rows of one page, the total and whether pages exist around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, Literal, TypeVar

T = TypeVar("T", covariant=True)
U = TypeVar("U")

DatePrefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]
DATE_PREFIXES: Final[tuple[DatePrefix, ...]] = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
KeyValue = datetime | int | str


@dataclass(frozen=True, slots=True)
class DateBound:
    """One date condition: ``prefix`` applied to the range ``[start, end)`` (UTC)."""

    prefix: DatePrefix
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a sort order: the sort key's value and the row's unique tie-break."""

    key: KeyValue
    tiebreak: KeyValue


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page of a search: ``count`` rows sorted on ``sort`` (a key the store knows, ``None``
    = its default order), descending or not, starting after ``after`` (or, ``backward``, the
    ``count`` rows just before it). ``count`` 0 asks for the total only."""

    count: int
    sort: str | None = None
    descending: bool = True
    after: Position | None = None
    backward: bool = False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """The rows of one page in sort order, the total of the whole search, and where the page
    starts and ends (``None`` on an empty page) with whether rows lie before and after it."""

    items: Sequence[T]
    total: int
    first: Position | None = None
    last: Position | None = None
    more_before: bool = False
    more_after: bool = False


def mapped(page: Page[T], items: Sequence[U]) -> Page[U]:
    """``page`` with its rows replaced by ``items`` (one per row, same order)."""
    return Page(items, page.total, page.first, page.last, page.more_before, page.more_after)
