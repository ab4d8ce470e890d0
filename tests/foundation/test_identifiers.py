"""Belgian identifiers: check digits, the 2000+ SSIN rule, formatting and masking."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehealth_hub.core.errors import IdentifierError
from ehealth_hub.core.identifiers import (
    Cbe,
    Nihii,
    Ssin,
    mask_name,
    mask_ssin,
    mask_ssins_in_text,
    mod97_check,
)


def make_ssin(born: date, serial: int) -> str:
    """An independent oracle for the SSIN rule (written from the spec, not from the code)."""
    base = f"{born:%y%m%d}{serial:03d}"
    number = int(("2" if born.year >= 2000 else "") + base)
    return f"{base}{97 - number % 97:02d}"


births = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
serials = st.integers(min_value=1, max_value=998)


@given(births, serials)
def test_accepts_every_ssin_built_by_the_rule(born: date, serial: int) -> None:
    ssin = Ssin.parse(make_ssin(born, serial))
    assert ssin.value == make_ssin(born, serial)


@given(births, serials)
def test_knows_the_2000_rule_from_the_check_digits(born: date, serial: int) -> None:
    ssin = Ssin.parse(make_ssin(born, serial))
    # a few numbers satisfy both rules (the two checks coincide); the rule must hold for 2000+
    if born.year >= 2000:
        assert ssin.born_after_2000


@given(births, serials, st.integers(min_value=1, max_value=96))
def test_refuses_an_ssin_with_wrong_check_digits(born: date, serial: int, delta: int) -> None:
    good = make_ssin(born, serial)
    other = (int(good[9:]) + delta) % 100
    candidates = {97 - int(good[:9]) % 97, 97 - int("2" + good[:9]) % 97}
    if other in candidates:
        return
    with pytest.raises(IdentifierError) as caught:
        Ssin.parse(good[:9] + f"{other:02d}")
    assert caught.value.rule == "ssin-mod97"
    assert "97" in caught.value.detail


@pytest.mark.parametrize(
    ("raw", "rule"),
    [("1234567890", "length"), ("8503121236a", "digits-only"), ("", "required")],
)
def test_names_the_rule_an_invalid_ssin_breaks(raw: str, rule: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        Ssin.parse(raw)
    assert caught.value.rule == rule
    assert caught.value.field == "SSIN"


def test_accepts_printed_ssin_with_separators() -> None:
    assert Ssin.parse("85.03.12-123.62").value == "85031212362"
    assert Ssin.parse("85031212362").formatted() == "85.03.12-123.62"


@given(st.integers(min_value=0, max_value=999_999), st.integers(min_value=0, max_value=999))
def test_accepts_every_person_nihii_built_by_the_rule(base: int, qualification: int) -> None:
    raw = f"{base:06d}{97 - base % 97:02d}{qualification:03d}"
    nihii = Nihii.person(raw)
    assert nihii.qualification == f"{qualification:03d}"


def test_accepts_the_documented_nihii_example() -> None:
    assert Nihii.person("11530231003").formatted() == "1/15302/31/003"


def test_refuses_nihii_with_wrong_check_digits() -> None:
    with pytest.raises(IdentifierError) as caught:
        Nihii.person("11530232003")
    assert caught.value.rule == "nihii-mod97"


def test_refuses_organisation_nihii_where_a_person_is_required() -> None:
    Nihii.parse("11530231")
    with pytest.raises(IdentifierError) as caught:
        Nihii.person("11530231")
    assert caught.value.rule == "nihii-person-length"


@given(st.integers(min_value=0, max_value=99_999_999))
def test_accepts_every_cbe_built_by_the_rule(first8: int) -> None:
    raw = f"{first8:08d}{97 - first8 % 97:02d}"
    assert Cbe.parse(raw).value == raw


def test_accepts_mycarenet_cbe_in_its_printed_forms() -> None:
    for raw in ("0820563481", "0820.563.481", "BE0820563481", "820563481"):
        assert Cbe.parse(raw).formatted() == "0820.563.481"


def test_refuses_cbe_with_wrong_check_digits() -> None:
    with pytest.raises(IdentifierError) as caught:
        Cbe.parse("0820563482")
    assert caught.value.rule == "cbe-mod97"


@given(st.integers(min_value=0, max_value=10**12))
def test_check_number_is_never_zero(base: int) -> None:
    assert 1 <= mod97_check(base) <= 97


def test_masks_ssins_and_names_for_logs() -> None:
    assert mask_ssin("85031212362") == "*******2362"
    assert mask_name("Jan Janssens") == "J** J*******"
    text = "patient 85.03.12-123.62 and 90070104521 seen"
    masked = mask_ssins_in_text(text)
    assert "85031212362" not in masked.replace(".", "").replace("-", "")
    assert "90070104521" not in masked
    assert "*******2362" in masked


def test_repr_of_an_ssin_does_not_leak_it() -> None:
    assert "85031212362" not in repr(Ssin.parse("85031212362"))
