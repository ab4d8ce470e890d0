"""FHIR search (R4 4.0.1, search.html) for every searchable type: declared once, parsed once.

A route module declares what its type can be searched on, once::

    CONSENT_SEARCH = SearchSpec(
        "Consent",
        params=(
            Param("patient", "reference", "SSIN, or <ssin-system>|<ssin>", required=True),
            Param("status", "token", "active, inactive, ..."),
            Param("period", "date", "consent period; ge/le... repeat for a range", repeats=True),
        ),
        sorts=("period", "_lastUpdated"),  # _sort=period, _sort=-_lastUpdated
        default_sort="-period",
        includes=(),                        # e.g. ("Patient:general-practitioner",)
    )

    def install(app):
        CONSENT_SEARCH.declare(app.state.capabilities.resource("Consent"))  # CapabilityStatement

    @router.get("", openapi_extra=CONSENT_SEARCH.openapi())   # the parameters in /openapi.json
    async def search(request: Request, query: Annotated[SearchQuery, Depends(CONSENT_SEARCH)]):
        page = await service.search(..., statuses=query.codes("status"),
                                    period=query.dates("period"), page=query.page)
        return FhirResponse(searchset(request, query, page))

Calling the spec (it is the FastAPI dependency) parses the request's query string into a
:class:`SearchQuery`, or refuses it with 400 (an OperationOutcome naming the parameter and rule):

* declared parameters, typed: ``token`` (``system|code``, ``|code`` or a bare ``code``; commas
  are OR) -> :meth:`SearchQuery.tokens` / :meth:`~SearchQuery.codes`; ``reference`` and
  ``string`` (commas are OR) -> :meth:`~SearchQuery.values`; ``date`` (prefixes eq ne gt lt ge le
  sa eb, precision from a year to fractions of a second, UTC when no offset is given; repeat the
  parameter for a range) -> :meth:`~SearchQuery.dates`; a parameter may be repeated only when
  declared ``repeats``; empty values are ignored, as the spec says; ``required`` ones must be given;
* ``_count``: default and maximum from settings (``api.search_default_count``,
  ``api.search_max_count``; larger asks get the maximum), ``0`` answers the total only;
* ``_sort``: one declared key, ``-`` for descending; ``_include``: declared values only;
* ``_cursor``: the opaque keyset position of the ``next``/``previous`` links (never an offset:
  rows added meanwhile do not shift pages). A cursor only fits the search it came from;
* ``_format`` is checked by :mod:`ehealth_hub.api.conventions`;
* anything else (an unknown parameter, a modifier such as ``status:not``) is refused 400, rule
  ``search.unknown-parameter``, unless the request says ``Prefer: handling=lenient``: then it is
  ignored, left out of the ``self`` link and named in an OperationOutcome entry of the Bundle.

Below the route, the service takes ``query.page`` (a :class:`~ehealth_hub.core.search.PageRequest`)
and typed filters, and its store answers one :class:`~ehealth_hub.core.search.Page` with
:func:`ehealth_hub.store.search.fetch_page` (filters in SQL, the total by ``COUNT``, the page by
keyset on a sort column and a unique tie-break, never by offset) and
:func:`~ehealth_hub.store.search.date_conditions` (the ``date`` prefixes on an instant or a
period); :func:`~ehealth_hub.core.search.mapped` turns rows into resources.

:func:`searchset` renders a Page of FHIR resources (with ``resourceType`` and ``id``) as a
searchset Bundle: ``total``, absolute ``fullUrl`` under :func:`~ehealth_hub.api.base_url.base_url`,
``search.mode`` ``match`` (``include`` for the ``included`` resources, ``outcome`` for the
lenient warning), ``link`` ``self``, ``next`` and ``previous`` (:func:`links` alone for a Bundle a
service built). The cursors are in :mod:`.search_cursor`, the value parsers in
:mod:`.search_values`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlencode

from fastapi import Request

from ehealth_hub.api.base_url import base_url
from ehealth_hub.api.capability import ResourceCapability
from ehealth_hub.api.search_cursor import decode_cursor, encode_cursor, query_digest
from ehealth_hub.api.search_values import Token, parse_count, parse_dates, parse_tokens, refuse
from ehealth_hub.core.search import DateBound, Page, PageRequest

ParamType = Literal["token", "reference", "date", "string", "number", "uri"]
ALWAYS: Final = frozenset({"_count", "_cursor", "_format"})
"""Control parameters every search accepts."""


@dataclass(frozen=True, slots=True)
class Param:
    """One declared search parameter."""

    name: str
    type: ParamType
    description: str
    repeats: bool = False
    """May be given more than once (ANDed): date ranges (``ge..&le..``)."""
    required: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search: typed values of the declared parameters, page, sort and includes."""

    spec: SearchSpec
    given: Mapping[str, tuple[Any, ...]]
    """Declared parameter -> its typed values (Token, str or DateBound)."""
    page: PageRequest
    includes: frozenset[str] = frozenset()
    used: tuple[tuple[str, str], ...] = ()
    """The query's parameters as understood (for the ``self`` link), cursor excluded."""
    ignored: tuple[str, ...] = ()
    """Unknown parameters ignored under ``Prefer: handling=lenient``."""
    cursor: str | None = None
    """The ``_cursor`` this page was asked with (repeated in its ``self`` link)."""

    def tokens(self, name: str) -> tuple[Token, ...]:
        """The ORed tokens of ``name`` (empty when not given)."""
        return tuple(v for v in self.given.get(name, ()) if isinstance(v, Token))

    def codes(self, name: str) -> tuple[str, ...]:
        """The ORed codes of token parameter ``name``, systems set aside (see :meth:`tokens`)."""
        return tuple(t.code for t in self.tokens(name))

    def values(self, name: str) -> tuple[str, ...]:
        """The ORed values of a reference or string parameter."""
        return tuple(v for v in self.given.get(name, ()) if isinstance(v, str))

    def value(self, name: str) -> str | None:
        """The one value of ``name``; 400 when several are ORed."""
        found = self.values(name)
        if len(found) > 1:
            refuse(name, f"{name} takes one value here", "search.single-value")
        return found[0] if found else None

    def dates(self, name: str) -> tuple[DateBound, ...]:
        """The ANDed date conditions of ``name``."""
        return tuple(v for v in self.given.get(name, ()) if isinstance(v, DateBound))

    @property
    def digest(self) -> str:
        """What a cursor of this search is bound to (its parameters, sort and includes)."""
        return query_digest(self.spec.resource, [p for p in self.used if p[0] != "_count"])


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """What one resource type can be searched on (see the module docstring)."""

    resource: str
    params: tuple[Param, ...]
    sorts: tuple[str, ...] = ()
    """Keys ``_sort`` accepts (each also as ``-key``)."""
    default_sort: str | None = None
    """``key`` or ``-key``; None: the store's own order."""
    includes: tuple[str, ...] = ()
    by_name: Mapping[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})

    def declare(self, entry: ResourceCapability) -> None:
        """Put the parameters, sorts and includes in the CapabilityStatement entry."""
        entry.search_params = [(p.name, p.type, p.description) for p in self.params]
        entry.search_params.append(("_count", "number", "page size (0: the total only)"))
        if self.sorts:
            keys = ", ".join(f"{k}, -{k}" for k in self.sorts)
            entry.search_params.append(("_sort", "special", f"one of {keys}"))
        entry.search_includes = list(self.includes)
        if "search-type" not in entry.interactions:
            entry.interactions.append("search-type")

    def openapi(self) -> dict[str, Any]:
        """The query parameters for the route's OpenAPI operation (``openapi_extra``): the
        dependency reads the query string itself, so FastAPI cannot list them."""
        params = [_openapi_param(p.name, p.description, p.required, p.repeats) for p in self.params]
        params.append(_openapi_param("_count", "page size (0: the total only)", schema=_COUNT))
        params.append(_openapi_param("_cursor", "opaque: from a next or previous link"))
        if self.sorts:
            keys = [k for s in self.sorts for k in (s, f"-{s}")]
            params.append(_openapi_param("_sort", "sort order", schema={"enum": keys}))
        if self.includes:
            include = {"type": "array", "items": {"enum": list(self.includes)}}
            params.append(_openapi_param("_include", "resources to add", schema=include))
        prefer = {"type": "string", "enum": ["handling=lenient", "handling=strict"]}
        params.append(
            {
                "name": "Prefer",
                "in": "header",
                "required": False,
                "description": "handling=lenient: ignore unknown parameters (else 400)",
                "schema": prefer,
            }
        )
        return {"parameters": params}

    def accepted(self) -> frozenset[str]:
        """Every parameter name this search accepts."""
        names = set(self.by_name) | ALWAYS
        names |= {"_sort"} if self.sorts else set()
        names |= {"_include"} if self.includes else set()
        return frozenset(names)

    async def __call__(self, request: Request) -> SearchQuery:
        """The FastAPI dependency: the request's query string, parsed (400 when invalid)."""
        settings = request.app.state.container.settings.api
        lenient = _lenient(request.headers.get("prefer", ""))
        limits = (settings.search_default_count, settings.search_max_count)
        return self.parse(request.query_params.multi_items(), lenient=lenient, counts=limits)

    def parse(
        self, items: Sequence[tuple[str, str]], *, lenient: bool, counts: tuple[int, int]
    ) -> SearchQuery:
        """Parse ``items`` (name, value), in order; ``counts``: default and maximum ``_count``."""
        accepted = self.accepted()
        unknown = tuple(dict.fromkeys(n for n, _ in items if n not in accepted))
        if unknown and not lenient:
            refuse(
                unknown[0],
                f"{self.resource} cannot be searched on {', '.join(unknown)}; it accepts "
                f"{', '.join(sorted(accepted))} (or send Prefer: handling=lenient)",
                "search.unknown-parameter",
            )
        known = [(n, v) for n, v in items if n in accepted and v != ""]
        given = self._typed(known)
        count = parse_count([v for n, v in known if n == "_count"], *counts)
        sort, descending = self._sort([v for n, v in known if n == "_sort"])
        includes = self._includes([v for n, v in known if n == "_include"])
        used = tuple((n, v) for n, v in known if n not in ("_cursor", "_count", "_format"))
        used += (("_count", str(count)),)
        query = SearchQuery(
            self, given, PageRequest(count, sort, descending), includes, used, unknown
        )
        cursors = [v for n, v in known if n == "_cursor"]
        if len(cursors) > 1:
            refuse("_cursor", "_cursor may be given once", "search.cursor")
        if cursors:
            after, backward = decode_cursor(cursors[0], query.digest)
            page = PageRequest(count, sort, descending, after, backward)
            query = SearchQuery(self, given, page, includes, used, unknown, cursors[0])
        return query

    def _typed(self, known: Sequence[tuple[str, str]]) -> dict[str, tuple[Any, ...]]:
        given: dict[str, tuple[Any, ...]] = {}
        for name, param in self.by_name.items():
            raw = [v for n, v in known if n == name]
            if len(raw) > 1 and not param.repeats:
                refuse(name, f"{name} may be given once (commas OR values)", "search.repeated")
            if not raw:
                if param.required:
                    refuse(name, f"{name} is required", "search.required")
                continue
            given[name] = _values(param, raw)
        return given

    def _sort(self, raw: Sequence[str]) -> tuple[str | None, bool]:
        wanted = ",".join(raw) or self.default_sort
        if wanted is None:
            return None, True
        keys = [k.strip() for k in wanted.split(",") if k.strip()]
        if len(keys) != 1 or keys[0].removeprefix("-") not in self.sorts:
            options = ", ".join(f"{k}, -{k}" for k in self.sorts)
            refuse("_sort", f"_sort takes one of {options}", "search.sort")
        return keys[0].removeprefix("-"), keys[0].startswith("-")

    def _includes(self, raw: Sequence[str]) -> frozenset[str]:
        wrong = [v for v in raw if v not in self.includes]
        if wrong:
            refuse("_include", f"_include supports {', '.join(self.includes)}", "search.include")
        return frozenset(raw)


_COUNT: Final = {"type": "integer", "minimum": 0}


def _openapi_param(
    name: str,
    description: str,
    required: bool = False,
    repeats: bool = False,
    schema: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    shape = {"type": "array", "items": {"type": "string"}} if repeats else {"type": "string"}
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": dict(schema or shape),
    }


def _values(param: Param, raw: Sequence[str]) -> tuple[Any, ...]:
    if param.type == "date":
        return parse_dates(param.name, raw)
    if param.type == "token":
        return parse_tokens(param.name, raw[0])
    return tuple(dict.fromkeys(v.strip() for v in ",".join(raw).split(",") if v.strip()))


def _lenient(prefer: str) -> bool:
    """``Prefer: handling=lenient`` (RFC 7240; FHIR search.html#errors)."""
    wanted = {p.strip().replace(" ", "").lower() for p in prefer.split(",") for p in p.split(";")}
    return "handling=lenient" in wanted


def searchset(
    request: Request,
    query: SearchQuery,
    page: Page[Mapping[str, Any]],
    included: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The searchset Bundle of ``page`` (FHIR resources with ``resourceType`` and ``id``)."""
    base = base_url(request)
    entry = [_entry(base, r, "match") for r in page.items]
    entry += [_entry(base, r, "include") for r in included]
    if query.ignored:
        entry.append(_ignored_outcome(query.ignored))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": page.total,
        "link": links(request, query, page),
        "entry": entry,
    }


def _entry(base: str, resource: Mapping[str, Any], mode: str) -> dict[str, Any]:
    url = f"{base}/fhir/{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": url, "resource": resource, "search": {"mode": mode}}


def links(request: Request, query: SearchQuery, page: Page[Any]) -> list[dict[str, str]]:
    """The Bundle's ``self`` and, when pages lie around ``page``, ``next`` and ``previous``
    links (absolute), for a Bundle built elsewhere (a service's answer) too."""
    here = f"{base_url(request)}{request.url.path}"

    def link(relation: str, cursor: str | None) -> dict[str, str]:
        pairs = list(query.used) + ([("_cursor", cursor)] if cursor else [])
        return {"relation": relation, "url": f"{here}?{urlencode(pairs)}"}

    links = [link("self", query.cursor)]
    if page.more_after and page.last is not None:
        links.append(link("next", encode_cursor(page.last, query.digest, backward=False)))
    if page.more_before and page.first is not None:
        links.append(link("previous", encode_cursor(page.first, query.digest, backward=True)))
    return links


def _ignored_outcome(ignored: Sequence[str]) -> dict[str, Any]:
    issue = {
        "severity": "warning",
        "code": "not-supported",
        "diagnostics": f"parameters ignored (Prefer: handling=lenient): {', '.join(ignored)}",
        "expression": list(ignored),
    }
    resource = {"resourceType": "OperationOutcome", "issue": [issue]}
    return {"resource": resource, "search": {"mode": "outcome"}}
