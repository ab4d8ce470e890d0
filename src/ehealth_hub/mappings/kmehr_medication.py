"""KMEHR ``medication`` items (Sumehr 2.0 and Vitalink/RSW/BHN medication schemes, KMEHR 1.38)
-> MedicationStatement (HL7-BE medication, be-medicationline) with FHIR R4 Dosage.

Mapping decisions:

- product: every ``intendedcd`` (CNK kept as a string, leading zeros included, under the HL7-BE CNK
  naming system; INN clusters and ATC likewise) with ``intendedname`` as display and text; a
  ``compoundprescription`` (magistral) is the concept text. No product at all is refused
  (rule ``medication.product``).
- the product concept carries the ``BeExtMedicationType`` extension be-medicationline requires:
  ``magistral`` for a ``compoundprescription``, else ``medicinal-product`` (a CNK product or an
  INN cluster; KMEHR does not mark officinal or non-medicinal products apart).
- status from CD-LIFECYCLE (``stopped``, ``suspended`` -> ``on-hold``, ``completed``), else
  ``active`` for a Sumehr medication (the Sumehr lists current medication) and ``unknown`` for a
  medication-scheme line (the scheme does not say whether it is being taken; HL7-BE writes
  ``unknown``; its suspensions may stop it, see :mod:`~ehealth_hub.mappings.kmehr_medline`);
  begin/end moments -> ``effectivePeriod``; CD-TEMPORALITY (chronic/acute/oneshot) is kept as a
  ``category`` coding, and ``oneshot`` (the Vitalink "if needed" line) also sets
  ``asNeededBoolean`` on every Dosage, as HL7-BE does.
- Sumehr 2.0 posology: ``dayperiod`` -> ``Timing.repeat.when``; ``posology/text`` -> ``Dosage.text``
  (language kept); ``takes`` low/high -> ``doseQuantity`` (or ``doseRange``) with the
  ``posology/unit`` code (see :mod:`~ehealth_hub.mappings.kmehr_units`).
- medication-scheme regimen: one Dosage per ``quantity`` with the day marker before it
  (``daynumber`` -> "Day N of treatment cycle" as in the HL7-BE outputs, ``date`` ->
  ``Timing.event``, ``weekday`` -> ``dayOfWeek``) and the ``daytime`` before it (``dayperiod`` ->
  ``when``, ``time`` -> ``timeOfDay``); CD-PERIODICITY -> ``frequency`` 1 per ``period`` +
  ``periodUnit``; ``route`` -> ``Dosage.route``; ``instructionforpatient`` ->
  ``patientInstruction``.
- extensions: the two be-medicationline requires (``artifact-version``: the line's version;
  ``adherence``: ``unknown``, as KMEHR does not say whether the patient takes it) and the three
  HL7-BE writes on every line (recorded date, registration status, recorder); see
  :mod:`~ehealth_hub.mappings.kmehr_medline`.
- administration units: UCUM or SNOMED CT where HL7-BE publishes a mapping, the KMEHR code kept
  alongside (:mod:`~ehealth_hub.mappings.kmehr_units`).
- day periods without an EventTiming code (``betweenbreakfastandlunch``, ``betweenmeals``, ...) are
  kept as a CD-DAYPERIOD coded ``additionalInstruction`` instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import (
    Json,
    coding,
    concept,
    kmehr_table_system,
    resource,
)
from ehealth_hub.mappings.kmehr_items import (
    ItemContext,
    Parsed,
    item_identifier,
    notes,
    products,
    to_coding,
)
from ehealth_hub.mappings.kmehr_medline import line_extensions
from ehealth_hub.mappings.kmehr_read import Element, Reader, fail
from ehealth_hub.mappings.kmehr_units import UNIT_TABLES, set_unit

WHEN: Final = {
    "morning": "MORN",
    "afternoon": "AFT",
    "evening": "EVE",
    "night": "NIGHT",
    "beforebreakfast": "ACM",
    "beforelunch": "ACD",
    "beforedinner": "ACV",
    "duringbreakfast": "CM",
    "duringlunch": "CD",
    "duringdinner": "CV",
    "afterbreakfast": "PCM",
    "afterlunch": "PCD",
    "afterdinner": "PCV",
    "aftermeal": "PC",
    "thehourofsleep": "HS",
}
"""CD-DAYPERIOD -> FHIR EventTiming (v3 TimingEvent codes)."""

_STATUS: Final = {"stopped": "stopped", "suspended": "on-hold", "completed": "completed"}
_UNIT_LETTER: Final = {"U": "h", "D": "d", "W": "wk", "M": "mo", "J": "a"}
_DUTCH_NUMBER: Final = {
    "T": 2, "D": 3, "V": 4, "Q": 5, "Z": 6, "S": 7, "A": 8, "N": 9, "X": 10, "E": 11, "W": 12,
    "C": 18, "P": 24,
}  # fmt: skip
_SPECIAL_PERIODS: Final[dict[str, tuple[float, str]]] = {
    "UH": (0.5, "h"),
    "O1": (2, "d"),
    "JH2": (0.5, "a"),
    "MZ2": (6, "mo"),
    "MC": (18, "mo"),
}
_WEEKDAYS: Final = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


def periodicity(code: str) -> tuple[float, str] | None:
    """CD-PERIODICITY -> (period, UCUM unit of time): ``D`` -> (1, d), ``MD`` -> (3, mo)."""
    if code in _SPECIAL_PERIODS:
        return _SPECIAL_PERIODS[code]
    unit = _UNIT_LETTER.get(code[:1])
    if unit is None or len(code) > 2:
        return None
    if len(code) == 1:
        return 1, unit
    number = _DUTCH_NUMBER.get(code[1])
    return (number, unit) if number else None


def _number(r: Reader, el: Element, text: str) -> float | int:
    try:
        value = float(text.replace(",", "."))
    except ValueError as exc:
        raise fail(el, "posology.quantity", f"not a number: {text!r}") from exc
    return int(value) if value.is_integer() else value


def _quantity(r: Reader, el: Element, value_el: Element, unit_holder: Element | None) -> Json:
    text = r.text(value_el)
    if text is None:
        raise fail(value_el, "posology.quantity", "empty quantity")
    out: Json = {"value": _number(r, value_el, text)}
    unit_el = r.child(unit_holder, "unit") if unit_holder is not None else None
    if unit_el is not None:
        unit = next((c for c in r.cds(unit_el) if c.s in UNIT_TABLES), None)
        if unit is not None:
            set_unit(out, unit.s, unit.value)
    return out


def _when(codes: list[str]) -> tuple[list[str], list[Json]]:
    when = [WHEN[c] for c in codes if c in WHEN]
    others = [
        concept([coding(kmehr_table_system("CD-DAYPERIOD"), c)]) for c in codes if c not in WHEN
    ]
    return when, others


def _dosage(when_codes: list[str], dose: Json | None, repeat: Json, extra: list[Json]) -> Json:
    when, instructions = _when(when_codes)
    out: Json = {}
    rep = dict(repeat)
    if when:
        rep["when"] = when
    if rep:
        out["timing"] = {"repeat": rep}
    if dose is not None:
        key = "doseRange" if "low" in dose else "doseQuantity"
        out["doseAndRate"] = [{key: dose}]
    if instructions or extra:
        out["additionalInstruction"] = [*extra, *instructions]
    return out


def _sumehr_dosage(r: Reader, item: Element, repeat: Json) -> Json | None:
    dayperiods = [
        c.value for dp in r.children(item, "dayperiod") for c in r.cds(dp) if c.s == "CD-DAYPERIOD"
    ]
    posology = r.child(item, "posology")
    if posology is None and not dayperiods:
        return None
    dose = None
    if posology is not None and (takes := r.child(posology, "takes")) is not None:
        low, high = r.child(takes, "low"), r.child(takes, "high")
        bounds = (("low", low), ("high", high))
        parts = {k: _quantity(r, e, e, posology) for k, e in bounds if e is not None}
        dose = parts["high"] if len(parts) == 1 and "high" in parts else parts.get("low")
        if len(parts) == 2:
            dose = parts
    out = _dosage(dayperiods, dose, repeat, [])
    texts = r.texts(posology) if posology is not None else []
    if texts:
        out["text"] = texts[0].value
        if texts[0].lang:
            out["_text"] = _lang_ext(texts[0].lang)
    return out


def _lang_ext(lang: str) -> Json:
    return {
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/language", "valueCode": lang}
        ]
    }


@dataclass
class _Regimen:
    """Where a regimen walk is: the day marker and the daytime that apply to the next quantity."""

    instructions: list[Json] = field(default_factory=list)
    event: str | None = None
    day_of_week: str | None = None
    when: list[str] = field(default_factory=list)
    time_of_day: list[str] = field(default_factory=list)

    def day(self, instructions: list[Json], event: str | None, weekday: str | None) -> None:
        self.instructions, self.event, self.day_of_week = instructions, event, weekday

    def dosage(self, dose: Json, repeat: Json) -> Json:
        rep = dict(repeat)
        if self.day_of_week:
            rep["dayOfWeek"] = [self.day_of_week]
        if self.time_of_day:
            rep["timeOfDay"] = [t[:8] for t in self.time_of_day]
        dosage = _dosage(self.when, dose, rep, list(self.instructions))
        if self.event:
            dosage.setdefault("timing", {})["event"] = [self.event]
        return dosage


def _regimen_dosages(r: Reader, regimen: Element, repeat: Json) -> list[Json]:
    """One Dosage per ``quantity``, with the day marker and daytime read before it."""
    out: list[Json] = []
    state = _Regimen()
    for child in regimen:
        tag = child.tag
        if tag == r.t("daynumber"):
            state.day([{"text": f"Day {r.text(child)} of treatment cycle"}], None, None)
        elif tag == r.t("date"):
            state.day([], r.text(child), None)
        elif tag == r.t("weekday"):
            wd = r.cd(child, "CD-WEEKDAY")
            state.day([], None, _WEEKDAYS.get(wd.value) if wd else None)
        elif tag == r.t("daytime"):
            state.when = [c.value for dp in r.children(child, "dayperiod") for c in r.cds(dp)]
            state.time_of_day = [t for t in (r.text(child, "time"),) if t]
        elif tag == r.t("quantity"):
            decimal = r.child(child, "decimal")
            dose = _quantity(r, child, decimal if decimal is not None else child, child)
            out.append(state.dosage(dose, repeat))
    return out


def dosages(r: Reader, item: Element) -> list[Json]:
    """All Dosage elements of a KMEHR medication item (Sumehr 2.0 or medication-scheme style)."""
    repeat: Json = {}
    frequency = r.child(item, "frequency")
    if frequency is not None and (per := r.cd(r.child(frequency, "periodicity"), "CD-PERIODICITY")):
        period = periodicity(per.value)
        if period is None:
            raise fail(frequency, "posology.periodicity", f"unknown CD-PERIODICITY {per.value!r}")
        repeat = {"frequency": 1, "period": period[0], "periodUnit": period[1]}
    regimen = r.child(item, "regimen")
    if regimen is not None:
        out = _regimen_dosages(r, regimen, repeat)
    else:
        single = _sumehr_dosage(r, item, repeat)
        out = [single] if single is not None else []
    posology_text = r.child(item, "posology") if regimen is not None else None
    route = r.cd(r.child(item, "route"), "CD-DRUG-ROUTE")
    instruction = r.texts(item, "instructionforpatient")
    if not out and (route or instruction or repeat or posology_text is not None):
        out = [{"timing": {"repeat": repeat}} if repeat else {}]
    for dosage in out:
        if route:
            dosage["route"] = concept([to_coding(route)])
        if instruction:
            dosage["patientInstruction"] = instruction[0].value
    return out


def medication_statement(
    ctx: ItemContext, p: Parsed, rid: str, *, version: str = "1", scheme: bool = False
) -> Json:
    """medication -> MedicationStatement (be-medicationline); ``version`` is the line's version
    and ``scheme`` says it is a medication-scheme line (status ``unknown`` unless its lifecycle
    says otherwise)."""
    r = ctx.r
    codings, name = products(r, p.element)
    kind = "medicinal-product" if codings or name else "magistral"
    name = name or _compound(r, p.element)
    if not codings and not name:
        raise fail(p.element, "medication.product", "medication item without a product")
    product = concept(codings, name)
    product["extension"] = [
        {"url": _MEDICATION_TYPE, "valueCodeableConcept": concept([coding(_TYPE_SYSTEM, kind)])}
    ]
    temporality = r.cd(r.child(p.element, "temporality"), "CD-TEMPORALITY")
    period = {k: v for k, v in (("start", p.begin), ("end", p.end)) if v}
    recorded = p.recorded or ctx.recorded
    doses = dosages(r, p.element)
    if temporality is not None and temporality.value == "oneshot":
        doses = [{**d, "asNeededBoolean": True} for d in doses or [{}]]
    return resource(
        "MedicationStatement",
        rid,
        prof.BE_MEDICATION_LINE,
        extension=line_extensions(version, recorded, ctx.recorder),
        identifier=item_identifier(ctx, p),
        status=_STATUS.get(p.lifecycle or "", "unknown" if scheme else "active"),
        category=concept([to_coding(temporality)]) if temporality else None,
        medicationCodeableConcept=product,
        subject=ctx.patient,
        effectivePeriod=period or None,
        dateAsserted=recorded,
        informationSource=ctx.recorder,
        dosage=doses,
        note=notes(p.texts),
    )


_MEDICATION_TYPE: Final = (
    "https://www.ehealth.fgov.be/standards/fhir/medication/StructureDefinition/BeExtMedicationType"
)
_TYPE_SYSTEM: Final = (
    "https://www.ehealth.fgov.be/standards/fhir/medication/CodeSystem/medication-type"
)


def _compound(r: Reader, item: Element) -> str | None:
    for content in r.children(item, "content"):
        if text := r.text(content, "compoundprescription"):
            return text
    return None
