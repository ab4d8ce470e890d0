"""KMEHR items without a dedicated mapping -> Observation (be-observation), with their value.

- ``parameter`` (weight, height, blood pressure...): ``code`` is the CD-PARAMETER code (from the
  item or its content), with the LOINC code first where one is known
  (``data/cd_parameter_loinc.csv``, with its source); ``content/decimal`` + ``content/unit`` ->
  ``valueQuantity`` in UCUM where the CD-UNIT code has an exact equivalent
  (``data/cd_unit_ucum.csv``), else with the KMEHR unit as system/code.
- any other item type: coded with its CD-ITEM, value from its content codes or text (or a number
  with its unit, as above).

Content the Observation cannot carry (a ``date``, an ``hcparty``, a second number...) is named
in the translation's warnings (:mod:`~ehealth_hub.mappings.kmehr_outcome`), never dropped
silently.
"""

from __future__ import annotations

import csv
import importlib.resources
from dataclasses import dataclass
from typing import Final

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import Json, coding, concept, kmehr_table_system, resource
from ehealth_hub.mappings.kmehr_items import ItemContext, Parsed, item_identifier, notes, to_coding
from ehealth_hub.mappings.kmehr_outcome import Issues
from ehealth_hub.mappings.kmehr_read import Element, Reader, fail

_MAPPED_CONTENT: Final = frozenset({"cd", "text", "decimal", "unit"})


def _table(name: str, columns: int) -> dict[str, tuple[str, ...]]:
    path = importlib.resources.files("ehealth_hub.mappings") / "data" / name
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line[:1] != "#"]
    rows = list(csv.reader(lines))[1:]
    return {row[0]: tuple(row[1:columns]) for row in rows if row}


@dataclass(frozen=True, slots=True)
class CodeTables:
    """The code tables of this module, read once per translation."""

    loinc: dict[str, tuple[str, ...]]
    ucum: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls) -> CodeTables:
        return cls(_table("cd_parameter_loinc.csv", 3), _table("cd_unit_ucum.csv", 2))


def _local(el: Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _quantity(r: Reader, content: Element, tables: CodeTables) -> Json | None:
    decimal = r.child(content, "decimal")
    text = r.text(decimal) if decimal is not None else None
    if decimal is None or text is None:
        return None
    try:
        number = float(text.replace(",", "."))
    except ValueError as exc:
        raise fail(decimal, "observation.value", f"not a number: {text!r}") from exc
    out: Json = {"value": int(number) if number.is_integer() else number}
    unit = r.cd(r.child(content, "unit"), "CD-UNIT")
    if unit is not None:
        ucum = tables.ucum.get(unit.value)
        system = prof.UCUM_SYSTEM if ucum else kmehr_table_system("CD-UNIT")
        out.update(unit=unit.value, system=system, code=ucum[0] if ucum else unit.value)
    return out


def _code(p: Parsed, tables: CodeTables) -> tuple[Json, set[int]]:
    """The Observation code, and the content codes it used (ids, so they are not values too)."""
    parameter = next((c for c in p.item_codes if c.s == "CD-PARAMETER"), None)
    used: set[int] = set()
    if parameter is None and p.kind.value == "parameter":
        parameter = next((c for c in p.codes if c.s == "CD-PARAMETER"), None)
        used = {id(parameter)} if parameter else set()
    if parameter is None:
        return concept([to_coding(p.kind)]), used
    codings = [to_coding(parameter)]
    if loinc := tables.loinc.get(parameter.value):
        codings.insert(0, coding(prof.LOINC_SYSTEM, loinc[0], loinc[1]))
    return concept(codings), used


def observation(ctx: ItemContext, p: Parsed, rid: str, issues: Issues, tables: CodeTables) -> Json:
    """Any item without a dedicated mapping -> Observation (be-observation), with its value."""
    r = ctx.r
    code, used = _code(p, tables)
    quantities = [q for c in r.children(p.element, "content") if (q := _quantity(r, c, tables))]
    value_codes = [c for c in p.codes if id(c) not in used]
    value: Json = {}
    if quantities:
        value["valueQuantity"] = quantities[0]
    elif value_codes:
        value["valueCodeableConcept"] = concept([to_coding(c) for c in value_codes])
    elif p.texts:
        value["valueString"] = p.texts[0].value
    _warn_unmapped(r, p, issues, len(quantities), bool(quantities and value_codes))
    return resource(
        "Observation",
        rid,
        prof.BE_OBSERVATION,
        identifier=item_identifier(ctx, p),
        status="final",
        code=code,
        subject=ctx.patient,
        effectiveDateTime=p.begin,
        performer=[ctx.recorder],
        note=notes(p.texts),
        **value,
    )


def _warn_unmapped(r: Reader, p: Parsed, issues: Issues, numbers: int, codes_too: bool) -> None:
    kind = p.kind.value
    for content in r.children(p.element, "content"):
        for child in content:
            name = _local(child)
            if name and name not in _MAPPED_CONTENT:
                issues.warn(child, "observation.content", f"{kind} item: {name} is not mapped")
    if numbers > 1:
        issues.warn(
            p.element,
            "observation.value",
            f"{kind} item: only the first of {numbers} values is mapped",
        )
    if codes_too:
        issues.warn(
            p.element, "observation.value", f"{kind} item: codes beside a number are not mapped"
        )
