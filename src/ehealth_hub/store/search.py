"""SQL for FHIR searches: date conditions and keyset paging (SQLite and PostgreSQL alike).

A store builds its ``select`` with its own filters, then asks :func:`fetch_page` for one page
ordered on a sort column and a unique tie-break column: the rows after (or before) a
:class:`~ehealth_hub.core.search.Position` are found with a ``WHERE (key, tiebreak) < (...)``
condition, never an offset, so a page does not drift when rows are added meanwhile. The total is
one ``COUNT`` over the same filters. :func:`date_conditions` turns ``date`` parameter values into
conditions on a target that is an instant (``lower`` = ``upper``) or a period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import KeyedColumnElement

from ehealth_hub.core.errors import InvalidInput
from ehealth_hub.core.search import DateBound, KeyValue, Page, PageRequest, Position
from ehealth_hub.store.errors import storage_errors

Column = KeyedColumnElement[Any]


def date_conditions(
    bounds: Sequence[DateBound], lower: Column, upper: Column | None = None
) -> list[ColumnElement[bool]]:
    """Conditions (ANDed) for ``bounds`` on a target from ``lower`` to ``upper`` (an instant
    when ``upper`` is None), per FHIR R4 search.html#prefix: ``ge``/``gt``/``sa`` look at the
    target's end, ``le``/``lt``/``eb`` at its start, ``eq`` wants the target within the range."""
    top = lower if upper is None else upper
    return [_date_condition(b, lower, top) for b in bounds]


def _date_condition(bound: DateBound, lower: Column, upper: Column) -> ColumnElement[bool]:
    start, end = _utc(bound.start), _utc(bound.end)
    within = and_(lower >= start, upper < end)
    match bound.prefix:
        case "eq":
            return within
        case "ne":
            return not_(within)
        case "ge":
            return upper >= start
        case "gt" | "sa":
            return (upper >= end) if bound.prefix == "gt" else (lower >= end)
        case "le":
            return lower < end
        case "lt" | "eb":
            return (lower < start) if bound.prefix == "lt" else (upper < start)


async def fetch_page(
    conn: AsyncConnection,
    stmt: Select[Any],
    *,
    key: Column,
    tiebreak: Column,
    page: PageRequest,
    operation: str,
) -> Page[RowMapping]:
    """One page of ``stmt``'s rows (which must select ``key`` and ``tiebreak``), in the order
    ``page`` asks, with the total of ``stmt``. StorageError when the database fails."""
    with storage_errors(operation):
        total = int(
            (await conn.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
        )
        if page.count == 0:
            return Page((), total)
        descending = page.descending != page.backward  # a backward page reads the other way
        ordered = stmt.order_by(
            *((key.desc(), tiebreak.desc()) if descending else (key.asc(), tiebreak.asc()))
        )
        if page.after is not None:
            _check_fits(page.after, key, tiebreak)
            ordered = ordered.where(_beyond(key, tiebreak, page.after, descending))
        rows = list((await conn.execute(ordered.limit(page.count + 1))).mappings())
    more = len(rows) > page.count
    rows = rows[: page.count]
    if page.backward:
        rows.reverse()
    first = _position(rows[0], key, tiebreak) if rows else None
    last = _position(rows[-1], key, tiebreak) if rows else None
    came_from = page.after is not None
    before, after = (more, came_from) if page.backward else (came_from, more)
    return Page(rows, total, first, last, more_before=before, more_after=after)


def _check_fits(at: Position, key: Column, tiebreak: Column) -> None:
    """A position of another sort (a cursor made up by hand) is refused, not sent to SQL."""
    for value, column in ((at.key, key), (at.tiebreak, tiebreak)):
        if not isinstance(value, column.type.python_type):
            raise InvalidInput(
                "_cursor does not fit this search's order",
                field="_cursor",
                rule="search.cursor",
                system="store",
            )


def _beyond(key: Column, tiebreak: Column, at: Position, descending: bool) -> ColumnElement[bool]:
    value = _utc(at.key) if isinstance(at.key, datetime) else at.key
    if descending:
        return or_(key < value, and_(key == value, tiebreak < at.tiebreak))
    return or_(key > value, and_(key == value, tiebreak > at.tiebreak))


def _position(row: RowMapping, key: Column, tiebreak: Column) -> Position:
    return Position(_value(row[key.key]), _value(row[tiebreak.key]))


def _value(raw: Any) -> KeyValue:
    if isinstance(raw, datetime):
        return _utc(raw)
    if isinstance(raw, int | str):
        return raw
    return str(raw)


def _utc(value: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes; the hub stores UTC only)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
