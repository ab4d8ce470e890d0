"""The search parser (api/search.py): each declared parameter typed, everything else refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ehealth_hub.api.search import Param, SearchQuery, SearchSpec
from ehealth_hub.api.search_cursor import encode_cursor
from ehealth_hub.api.search_values import Token, parse_date
from ehealth_hub.core.errors import InvalidInput
from ehealth_hub.core.search import Position

SPEC = SearchSpec(
    "Consent",
    params=(
        Param("patient", "reference", "SSIN", required=True),
        Param("status", "token", "status"),
        Param("period", "date", "period", repeats=True),
    ),
    sorts=("period",),
    default_sort="-period",
    includes=("Consent:actor",),
)
COUNTS = (50, 500)


def parse(*items: tuple[str, str], lenient: bool = False) -> SearchQuery:
    return SPEC.parse([("patient", "1"), *items], lenient=lenient, counts=COUNTS)


def refused(*items: tuple[str, str]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse(*items)
    return caught.value


def test_an_unknown_parameter_is_refused_400_naming_it() -> None:
    error = refused(("colour", "red"))
    assert (error.field, error.rule) == ("colour", "search.unknown-parameter")
    assert "colour" in error.detail


def test_a_modifier_is_an_unknown_parameter() -> None:
    assert refused(("status:not", "active")).field == "status:not"


def test_lenient_handling_ignores_and_reports_unknown_parameters() -> None:
    query = parse(("colour", "red"), ("status", "active"), lenient=True)
    assert query.ignored == ("colour",)
    assert query.codes("status") == ("active",)
    assert ("colour", "red") not in query.used


def test_tokens_take_a_system_or_none_and_commas_or_them() -> None:
    query = parse(("status", "http://hl7.org/fhir/consent-state-codes|active,inactive"))
    assert query.tokens("status") == (
        Token("http://hl7.org/fhir/consent-state-codes", "active"),
        Token(None, "inactive"),
    )
    assert parse(("status", "|active")).tokens("status") == (Token("", "active"),)
    assert refused(("status", "system|")).rule == "search.token"


def test_a_parameter_declared_once_cannot_be_repeated() -> None:
    assert refused(("status", "active"), ("status", "inactive")).rule == "search.repeated"


def test_a_required_parameter_must_be_given() -> None:
    with pytest.raises(InvalidInput) as caught:
        SPEC.parse([], lenient=False, counts=COUNTS)
    assert (caught.value.field, caught.value.rule) == ("patient", "search.required")


def test_empty_values_are_ignored() -> None:
    assert parse(("status", "")).codes("status") == ()


def test_dates_take_prefixes_and_their_precision_sets_the_range() -> None:
    bound = parse_date("period", "ge2026-02")
    assert (bound.prefix, bound.start, bound.end) == (
        "ge",
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    day = parse_date("period", "2026-12-31")
    assert (day.prefix, day.end) == ("eq", datetime(2027, 1, 1, tzinfo=UTC))
    local = parse_date("period", "lt2026-06-01T10:00:00+02:00")
    assert local.start == datetime(2026, 6, 1, 8, tzinfo=UTC)
    assert parse_date("period", "2026").end == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_date("period", "2026-06-01T10:00:00.5Z").end.microsecond == 600000


def test_a_date_range_is_two_repetitions() -> None:
    query = parse(("period", "ge2026-01-01"), ("period", "le2026-12-31"))
    assert [b.prefix for b in query.dates("period")] == ["ge", "le"]


@pytest.mark.parametrize("value", ["2026-13", "2026-02-30", "yesterday", "ge", "2026-1-1"])
def test_a_malformed_date_is_refused(value: str) -> None:
    error = refused(("period", value))
    assert (error.field, error.rule) == ("period", "search.date")


def test_count_defaults_is_capped_and_may_be_zero() -> None:
    assert parse().page.count == 50
    assert parse(("_count", "10000")).page.count == 500
    assert parse(("_count", "0")).page.count == 0
    for bad in ("-1", "two", "1.5"):
        assert refused(("_count", bad)).rule == "search.count"


def test_sort_takes_one_declared_key_either_way() -> None:
    assert (parse().page.sort, parse().page.descending) == ("period", True)
    page = parse(("_sort", "period")).page
    assert (page.sort, page.descending) == ("period", False)
    assert refused(("_sort", "status")).rule == "search.sort"
    assert refused(("_sort", "period,-period")).rule == "search.sort"


def test_include_takes_declared_values_only() -> None:
    assert parse(("_include", "Consent:actor")).includes == {"Consent:actor"}
    assert refused(("_include", "Consent:patient")).rule == "search.include"


def test_a_cursor_fits_only_the_search_it_came_from() -> None:
    query = parse(("status", "active"))
    at = Position(datetime(2026, 1, 1, tzinfo=UTC), "abc")
    cursor = encode_cursor(at, query.digest, backward=True)
    again = parse(("status", "active"), ("_count", "7"), ("_cursor", cursor))
    assert (again.page.after, again.page.backward) == (at, True)
    assert refused(("status", "inactive"), ("_cursor", cursor)).rule == "search.cursor"
    assert refused(("_cursor", "not-a-cursor")).rule == "search.cursor"


def test_the_capability_entry_lists_exactly_what_the_parser_accepts() -> None:
    from ehealth_hub.api.capability import ResourceCapability

    entry = ResourceCapability("Consent")
    SPEC.declare(entry)
    listed = {name for name, _, _ in entry.search_params}
    assert listed | {"_include", "_cursor", "_format"} == SPEC.accepted()
    assert entry.search_includes == ["Consent:actor"]
