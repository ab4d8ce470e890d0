"""eFact flat files: a golden batch of the hub's own making, the control totals the mutualities
check, acknowledgements and result files, and properties over arbitrary batches."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehealth_hub.core.errors import MappingError
from ehealth_hub.mappings import mycarenet_efact as ef
from ehealth_hub.mappings import mycarenet_efact_answers as ans

GOLDEN = Path(__file__).parent / "golden"
SENDER = ef.Sender(
    "11530231003", "0790000068", "BE71096123456769", "GKCCBEBB", "Vermeulen", "Sarah", "021234567"
)


def batch(*invoices: ef.Invoice, federation: str = "100") -> ef.Batch:
    return ef.Batch(
        SENDER, federation, 7, 20261124000001, 2026, 11, date(2026, 11, 24), True, invoices
    )


AN = ef.Invoice(
    1,
    "85031212362",
    "female",
    "134",
    "110",
    "110",
    "claim-an-1",
    (
        ef.InvoiceLine(
            "101673", date(2026, 11, 23), Decimal("25.40"), "6d1f0a5e-3c0e-4c55-9a62-0e8d7c1a2b3c"
        ),
    ),
)
THOMAS = ef.Invoice(
    2,
    "49090908855",
    "male",
    "900",
    "131",
    "131",
    "claim-thomas-1",
    (
        ef.InvoiceLine("101710", date(2026, 11, 22), Decimal("21.20"), "line-2"),
        ef.InvoiceLine("101695", date(2026, 11, 23), Decimal("30.00"), "line-3"),
    ),
)


def test_a_batch_matches_its_golden_file() -> None:
    text = ef.write_batch(batch(AN, THOMAS))
    golden = (GOLDEN / "efact_920000_an_thomas.txt").read_text(encoding="latin-1")
    assert text == golden


def test_records_are_350_characters_in_the_cin_order() -> None:
    records = ef.records(ef.write_batch(batch(AN, THOMAS)))
    assert [kind for kind, _ in records] == [
        "200",
        "300",
        "10",
        "20",
        "50",
        "80",
        "20",
        "50",
        "50",
        "80",
        "90",
        "95",
        "95",
        "96",
    ]
    assert records[0][1]["name"] == "920000"
    assert records[3][1]["ssin"] == "0085031212362"
    assert records[6][1]["ct"] == "131131"


def test_control_totals_are_the_sum_of_amounts_and_codes_mod_97() -> None:
    records = {k: z for k, z in ef.records(ef.write_batch(batch(AN, THOMAS))) if k in ("90", "96")}
    assert int(records["90"]["amount"]) == 2540 + 2120 + 3000
    assert int(records["90"]["control"]) == (101673 + 101710 + 101695) % 97
    assert records["96"]["federation"] == "199"


@pytest.mark.parametrize(
    ("mutuality", "destination"),
    [("134", "134"), ("306", "306"), ("319", "300"), ("403", "400"), ("900", "900")],
)
def test_destination_follows_the_cin_rules(mutuality: str, destination: str) -> None:
    assert ef.destination(mutuality) == destination


def test_a_tampered_record_fails_its_checksum() -> None:
    text = ef.write_batch(batch(AN))
    forged = text[:360] + ("9" if text[360] != "9" else "8") + text[361:]
    with pytest.raises(MappingError) as refused:
        ans.check_batch(forged)
    assert refused.value.rule == "efact.checksum"


def test_a_wrong_total_is_named_by_record_and_zone() -> None:
    records = [ef.render(k, z) for k, z in ef.records(ef.write_batch(batch(AN)))]
    kinds = [r[:6].lstrip("0") for r in records]
    footer = ef.records(records[kinds.index("90")])[0][1]
    records[kinds.index("90")] = ef.render("90", {**footer, "amount": "1"})
    with pytest.raises(MappingError) as refused:
        ans.check_batch("".join(records))
    assert refused.value.field == "90.amount"


def test_acknowledgement_and_result_files_read_back() -> None:
    assert ans.read_ack(ans.write_ack(ans.Ack(20261124000001, False, "E001"))) == ans.Ack(
        20261124000001, False, "E001"
    )
    results = [
        ans.LineResult(5, 1, True, "line-a"),
        ans.LineResult(8, 2, False, "line-b", "ssin", "NOTINS"),
    ]
    assert ans.read_result(ans.write_result(results)) == results


def test_a_zone_too_long_is_refused_not_truncated() -> None:
    with pytest.raises(MappingError) as refused:
        ef.render("95", {"mutuality": "1234"})
    assert refused.value.rule == "efact.width"


lines = st.builds(
    ef.InvoiceLine,
    st.sampled_from(["101673", "101695", "101710"]),
    st.dates(date(2025, 1, 1), date(2026, 12, 31)),
    st.decimals(Decimal("0.01"), Decimal("9999.99"), places=2),
    st.uuids().map(str),
)
invoices = st.builds(
    ef.Invoice,
    st.integers(1, 10**12 - 1),
    st.sampled_from(["85031212362", "49090908855", "90070104521"]),
    st.sampled_from(["male", "female"]),
    st.sampled_from(["134", "306", "319", "403", "509", "900"]),
    st.just("110"),
    st.just("110"),
    st.text("abcdef0123456789", max_size=25),
    st.lists(lines, min_size=1, max_size=4).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(invoices, min_size=1, max_size=5))
def test_every_batch_passes_the_mutualities_checks_and_keeps_its_lines(
    drawn: list[ef.Invoice],
) -> None:
    text = ef.write_batch(batch(*drawn))
    assert len(text) % ef.RECORD_LENGTH == 0
    _, found = ans.check_batch(text)
    expected = [line for invoice in drawn for line in invoice.lines]
    assert [z["line_ref"] for z in found] == [line.line_ref for line in expected]
    assert sum(int(z["amount"]) for z in found) == sum(int(line.amount * 100) for line in expected)
