"""Parsers of search parameter values (FHIR R4 4.0.1 search.html#token, #date, #count).

Each refuses a value it cannot read with :func:`refuse`: an InvalidInput (400) naming the
parameter and the rule (``search.token``, ``search.date``, ``search.count``...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from ehealth_hub.core.errors import InvalidInput
from ehealth_hub.core.search import (
    DATE_PREFIXES,
    DateBound,
    DatePrefix,
    DateSyntaxError,
    date_range,
)


@dataclass(frozen=True, slots=True)
class Token:
    """A token value: ``system|code`` (``system`` ``""`` for ``|code``: no system), or a bare
    ``code`` (``system`` None: any system)."""

    system: str | None
    code: str


def refuse(name: str, detail: str, rule: str) -> NoReturn:
    """400: the search parameter ``name`` breaks ``rule``."""
    raise InvalidInput(detail, field=name, rule=rule, system="api")


def parse_tokens(name: str, raw: str) -> tuple[Token, ...]:
    """The ORed tokens of one ``name=a,b|c`` value."""
    tokens = []
    for part in raw.split(","):
        system, bar, code = part.strip().rpartition("|")
        if not code:
            refuse(name, f"{name} must be <system>|<code> or <code>", "search.token")
        tokens.append(Token(system if bar else None, code))
    return tuple(dict.fromkeys(tokens))


def parse_count(raw: Sequence[str], default: int, maximum: int) -> int:
    """``_count``: ``default`` when absent, at most ``maximum``; 0 asks for the total only."""
    if not raw:
        return default
    if len(raw) > 1 or not raw[0].isascii() or not raw[0].isdigit():
        refuse("_count", "_count must be one whole number, 0 or more", "search.count")
    return min(int(raw[0]), maximum)


def parse_dates(name: str, raw: Sequence[str]) -> tuple[DateBound, ...]:
    """The ANDed conditions of ``name=ge2026-01-01&name=lt2026-02``."""
    return tuple(parse_date(name, value) for value in raw)


def parse_date(name: str, raw: str) -> DateBound:
    """One ``[prefix]date`` value: the range its precision covers, in UTC (a time without an
    offset is read as UTC)."""
    prefix: DatePrefix = "eq"
    for known in DATE_PREFIXES:
        if raw.startswith(known):
            prefix, raw = known, raw[len(known) :]
            break
    try:
        start, end = date_range(raw)
    except DateSyntaxError:
        refuse(
            name,
            f"{name} must be [eq|ne|gt|lt|ge|le|sa|eb]YYYY[-MM[-DD[Thh:mm[:ss[.f]][Z|+hh:mm]]]]",
            "search.date",
        )
    except (ValueError, OverflowError) as exc:  # 2026-02-30, year 9999 + 1, an offset past 1
        refuse(name, f"{name}: {exc}", "search.date")
    return DateBound(prefix, start, end)
