"""Properties of the KMEHR reader over generated items: refuse cleanly or map completely."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from ehealth_hub.core.errors import MappingError
from ehealth_hub.fhir.builders import uuid5_ids
from ehealth_hub.fhir.composition import SECTIONS
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from tests.mappings._support import kmehr_doc

NOW = datetime(2026, 11, 20, 9, 45, tzinfo=UTC)
KINDS = ["problem", "risk", "allergy", "adr", "vaccine", "medication", "patientwill", "lab"]
text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
code = st.from_regex(r"[A-Z0-9.]{1,6}", fullmatch=True)


@st.composite
def items(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(KINDS))
    parts = [f'<cd S="CD-ITEM" SV="1.0">{kind}</cd>']
    if draw(st.booleans()):
        padded = f"\n  {draw(code)}  \n"
        parts.append(f'<content><cd S="ICPC" SV="2">{padded}</cd></content>')
    if draw(st.booleans()):
        cnk = draw(st.from_regex(r"0[0-9]{6}", fullmatch=True))
        parts.append(
            "<content><medicinalproduct>"
            f'<intendedcd S="CD-DRUG-CNK" SV="1">{cnk}</intendedcd>'
            f"<intendedname>{escape(draw(text))}</intendedname></medicinalproduct></content>"
        )
    if draw(st.booleans()):
        parts.append(f'<content><text L="nl">{escape(draw(text))}</text></content>')
    if draw(st.booleans()):
        day = draw(st.dates()).isoformat()
        parts.append(f"<beginmoment><date>{day}</date></beginmoment>")
    return '<item><id S="ID-KMEHR" SV="1.0">1</id>' + "".join(parts) + "</item>"


@settings(max_examples=200, deadline=None)
@given(st.lists(items(), max_size=6))
def test_maps_every_item_or_refuses_naming_an_item(generated: list[str]) -> None:
    doc = kmehr_doc("".join(generated))
    refusal: MappingError | None = None
    try:
        bundle = translate_kmehr(doc, now=NOW, new_id=uuid5_ids("p"))
    except MappingError as exc:
        refusal = exc
    if refusal is not None:
        assert "item" in refusal.field
        assert refusal.rule
        return
    composition = bundle["entry"][0]["resource"]
    listed = [e for s in composition.get("section", []) for e in s.get("entry", [])]
    outcomes = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "OperationOutcome"]
    assert len(listed) == len(generated) + len(outcomes)
    titles = {title for title, _ in SECTIONS.values()}
    assert all(s["title"] in titles for s in composition.get("section", []))
    assert all(e["resource"]["meta"]["profile"] for e in bundle["entry"])
    cnks = [
        c["code"]
        for e in bundle["entry"]
        for c in e["resource"].get("medicationCodeableConcept", {}).get("coding", [])
    ]
    assert all(len(c) == 7 and c.startswith("0") for c in cnks)
