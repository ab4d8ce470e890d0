"""Value types of a FHIR search (R4 4.0.1, search.html) shared by api/, services/ and the stores.

The API parses a query string into these (:mod:`ehealth_hub.api.search`), the services pass them
on, and the stores turn them into SQL (:mod:`ehealth_hub.store.search`):

* :class:`DateBound`: one ``date`` parameter value, its prefix and the range its precision covers
  (``2026-12`` is ``[2026-12-01, 2027-01-01)``, :func:`date_range`, also the range a stored
  ``date``/``dateTime`` element covers); repetitions are ANDed (``ge..&le..`` = a range);
* :class:`Position`: where a page ends in the sort order (sort key, then a unique tie-break), the
  keyset a cursor names; :class:`PageRequest`: how many, in which order, after or before which
  position; :class:`Page`: the rows of one page, the total and whether pages exist around it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


_DATE: Final = re.compile(
    r"^(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<hour>\d{2}):(?P<minute>\d{2})(:(?P<second>\d{2})(\.(?P<fraction>\d{1,6}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class DateSyntaxError(ValueError):
    """Raised when: a value is not ``YYYY[-MM[-DD[Thh:mm[:ss[.f]][Z|+hh:mm]]]]``."""


def date_range(text: str) -> tuple[datetime, datetime]:
    """The range ``[start, end)`` (UTC) a FHIR date, dateTime or instant covers by its precision
    (search.html#date: ``2026-12`` is the whole month; a time without an offset is read as UTC).
    DateSyntaxError when ``text`` has not the shape; ValueError (or OverflowError) when it names
    no moment (``2026-02-30``, year 9999 + 1)."""
    match = _DATE.match(text)
    if match is None:
        raise DateSyntaxError(text)
    start, step = _start_and_step(match)
    return start.astimezone(UTC), _add(start, step).astimezone(UTC)


def _start_and_step(match: re.Match[str]) -> tuple[datetime, str | timedelta]:
    g = match.groupdict()
    zone = g["zone"]
    tz = UTC if zone in (None, "Z") else datetime.strptime(zone, "%z").tzinfo
    fraction = g["fraction"] or ""
    start = datetime(
        int(g["year"]),
        int(g["month"] or 1),
        int(g["day"] or 1),
        int(g["hour"] or 0),
        int(g["minute"] or 0),
        int(g["second"] or 0),
        int(fraction.ljust(6, "0")) if fraction else 0,
        tzinfo=tz,
    )
    if g["month"] is None:
        return start, "year"
    if g["day"] is None:
        return start, "month"
    if g["hour"] is None:
        return start, timedelta(days=1)
    if g["second"] is None:
        return start, timedelta(minutes=1)
    if not fraction:
        return start, timedelta(seconds=1)
    return start, timedelta(microseconds=10 ** (6 - len(fraction)))


def _add(start: datetime, step: str | timedelta) -> datetime:
    if isinstance(step, timedelta):
        return start + step
    if step == "year":
        return start.replace(year=start.year + 1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


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
