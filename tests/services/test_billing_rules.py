"""The tariff and rules table: the packaged one is valid (sourced rows, no overlapping periods),
its figures and boundaries are the published ones, and a broken table stops the hub at start-up
naming the row and the rule."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from ehealth_hub.bootstrap import build_container
from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.services.billing_rules import is_bim, load_rules, parse_rules
from ehealth_hub.settings import load_settings

HEADER = (
    "code,label,valid_from,valid_to,provider,patient_share_normal,patient_share_bim,route,"
    "conditions,source\n"
)
SOURCE = "https://webappsa.riziv-inami.fgov.be/Nomen/fr/101673"


def test_every_row_of_the_packaged_table_is_sourced_and_periods_never_overlap() -> None:
    rules = load_rules()
    assert rules.rows
    for row in rules.rows:
        assert row.source.startswith("https://"), row
    for code in rules.codes():
        periods = sorted((r for r in rules.rows if r.code == code), key=lambda r: r.valid_from)
        for before, after in pairwise(periods):
            assert before.valid_to is not None
            assert before.valid_to < after.valid_from, code


@pytest.mark.parametrize(
    ("code", "normal", "bim"),
    [("101673", "4.00", "1.00"), ("101695", "4.00", "1.00"), ("101710", "3.50", "1.00")],
)
def test_the_published_patient_shares_of_the_video_codes(code: str, normal: str, bim: str) -> None:
    row = load_rules().row(code, date(2024, 6, 1))
    assert row is not None
    assert row.patient_share(bim=False) == Decimal(normal)
    assert row.patient_share(bim=True) == Decimal(bim)
    assert row.route == "efact"
    assert "treatment-relationship" in row.conditions


def test_the_telephone_consultation_is_reimbursable_until_its_last_day_only() -> None:
    rules = load_rules()
    last = date(2025, 2, 14)
    assert rules.row("101732", last) is not None
    assert rules.row("101732", last + timedelta(days=1)) is None
    assert rules.row("101732", date(2022, 1, 1)) is not None
    assert rules.row("101732", date(2021, 12, 31)) is None


def test_a_new_period_is_a_new_row_and_each_day_falls_in_one() -> None:
    rows = parse_rules(
        HEADER
        + f"101673,a,2022-01-01,2025-12-31,gp,4.00,1.00,efact,treatment-relationship,{SOURCE}\n"
        + f"101673,b,2026-01-01,,gp,4.50,1.50,efact,treatment-relationship,{SOURCE}\n"
    )
    assert [r.label for r in rows] == ["a", "b"]


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        (
            f"101673,a,2022-01-01,,gp,4,1,efact,,{SOURCE}\n101673,b,2025-01-01,,gp,4,1,efact,,{SOURCE}",
            "billing.overlap",
        ),
        (
            f"101673,a,2022-01-01,2025-06-30,gp,4,1,efact,,{SOURCE}\n101673,b,2025-06-30,,gp,4,1,efact,,{SOURCE}",
            "billing.overlap",
        ),
        ("101673,a,2022-01-01,,gp,4,1,efact,,", "billing.source"),
        ("101673,a,2022-01-01,,gp,4,1,efact,,http://example.org", "billing.source"),
        (f"101673,a,2022-01-01,2021-01-01,gp,4,1,efact,,{SOURCE}", "billing.period"),
        (f"101673,a,2022-13-01,,gp,4,1,efact,,{SOURCE}", "billing.date"),
        (f"101673,a,2022-01-01,,gp,4,,efact,,{SOURCE}", "billing.share"),
        (f"101673,a,2022-01-01,,gp,-4,1,efact,,{SOURCE}", "billing.amount"),
        (f"101673,a,2022-01-01,,gp,4,1,fax,,{SOURCE}", "billing.route"),
        (f"101673,a,2022-01-01,,gp,4,1,efact,sunshine,{SOURCE}", "billing.conditions"),
        (f"1016,a,2022-01-01,,gp,4,1,efact,,{SOURCE}", "billing.code"),
        (f"101673,a,2022-01-01,,dentist,4,1,efact,,{SOURCE}", "billing.provider"),
        (f"psy-fl-individual,a,2024-04-01,,gp,4,1,efact,,{SOURCE}", "billing.code"),
        (f"123456,a,2024-04-01,,clinical-psychologist,11,4,mhc,,{SOURCE}", "billing.code"),
    ],
)
def test_a_broken_table_is_refused_naming_the_rule(line: str, rule: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        parse_rules(HEADER + line + "\n")
    assert refused.value.code == rule


async def test_a_broken_table_file_stops_the_hub_at_start_up(tmp_path: Path) -> None:
    broken = tmp_path / "rules.csv"
    broken.write_text(HEADER + "101673,a,2022-01-01,,gp,4,1,efact,,\n")
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        data_dir=tmp_path / "var",
        mycarenet={"billing_rules_file": broken},
    )
    with pytest.raises(ConfigurationError, match=r"rules\.csv line 2: .*billing\.source"):
        await build_container(settings)


@pytest.mark.parametrize(
    ("ct1", "bim"), [("110", False), ("111", True), ("131", True), ("", False)]
)
def test_increased_reimbursement_is_read_from_ct1(ct1: str, bim: bool) -> None:
    assert is_bim(ct1) is bim


@pytest.mark.parametrize(
    ("session", "normal", "bim"),
    [
        ("psy-fl-individual", "11.00", "4.00"),
        ("psy-fl-group", "2.50", "2.50"),
        ("psy-fl-individual-first", "0.00", "0.00"),
    ],
)
def test_the_published_patient_shares_of_first_line_psychological_sessions(
    session: str, normal: str, bim: str
) -> None:
    """Figures as published (CAAMI-HZIV, "bij de psycholoog"; INAMI: EUR 11, EUR 4 with increased
    reimbursement, the first session free), keyed by the hub's session keys: MHC's own
    pseudo-codes are not public, so no row may pretend to be one."""
    rules = load_rules()
    row = rules.row(session, date(2024, 4, 1))
    assert row is not None
    assert (row.patient_share(bim=False), row.patient_share(bim=True)) == (
        Decimal(normal),
        Decimal(bim),
    )
    assert (row.provider, row.route, row.conditions) == (
        "clinical-psychologist",
        "mhc",
        frozenset(),
    )
    assert row.source.startswith("https://")
    assert row.checked is not None
    assert rules.row(session, date(2024, 3, 31)) is None  # the 2024 convention's rows only
