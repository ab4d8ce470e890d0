"""KMEHR vaccine items -> FHIR R4 Immunization (HL7-BE be-vaccination).

Mapping decisions:

- ``vaccine`` -> Immunization (be-vaccination). ``vaccineCode`` carries the code the profile
  binds (required) to be-vs-vaccine-code: the SNOMED CT vaccine product that covers exactly the
  item's CD-VACCINEINDICATION set (``data/cd_vaccineindication_snomed.csv``, with its source), else
  787859002 "unspecified vaccine" of the same value set, with the product name as text. The
  product itself (CNK, zeros kept, + name) is the ``coded`` part of the
  ``be-ext-administeredProduct`` extension, where be-vaccination puts it (rule
  be-rule-vaccination-2 wants the CNK under ``.../medication/NamingSystem/be-ns-cnk-codes``);
  ``batch`` -> that extension's ``lotNumber`` (be-vaccination forbids ``Immunization.lotNumber``).
  The indications are said by that SNOMED CT product; only when no product of the value set
  covers them (``unspecified vaccine``) is each CD-VACCINEINDICATION a ``reasonCode`` under the
  KMEHR table (be-vaccination forbids ``protocolApplied.targetDisease``, and its reasonCode value
  set holds only pre-/post-exposure prophylaxis); lifecycle
  ``notadministered`` -> ``not-done``. A vaccine without a date is refused
  (rule ``vaccine.occurrence``).
"""

from __future__ import annotations

import csv
import importlib.resources
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import Json, coding, concept, resource
from ehealth_hub.mappings.kmehr_items import (
    ItemContext,
    Parsed,
    item_identifier,
    notes,
    products,
    to_coding,
)
from ehealth_hub.mappings.kmehr_read import fail

_ADMINISTERED_PRODUCT = prof.BE_VACCINATION.replace("be-vaccination", "be-ext-administeredProduct")
_UNSPECIFIED: Final = ("787859002", "unspecified vaccine")


def _vaccine_codes() -> Mapping[str, tuple[str, str]]:
    path = importlib.resources.files("ehealth_hub.mappings") / "data"
    text = (path / "cd_vaccineindication_snomed.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(line for line in text.splitlines() if line[:1] != "#"))[1:]
    return MappingProxyType({row[0]: (row[1], row[2]) for row in rows if row})


VACCINE_CODES: Final = _vaccine_codes()
"""Read-only table (a data file, read once at import): indication set -> SNOMED CT code, display."""


def vaccine_code(indications: list[str], name: str | None) -> Json:
    """The be-vs-vaccine-code concept of a vaccine covering ``indications``."""
    code, display = VACCINE_CODES.get("+".join(sorted(set(indications))), _UNSPECIFIED)
    return concept([coding(prof.SNOMED_SYSTEM, code, display)], name)


def immunization(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """vaccine -> Immunization (be-vaccination)."""
    if p.begin is None:
        raise fail(p.element, "vaccine.occurrence", "vaccine item without a beginmoment")
    codings, name = products(ctx.r, p.element)
    if not codings and not name:
        raise fail(p.element, "vaccine.product", "vaccine item without a product")
    indications = [c for c in p.codes if c.s == "CD-VACCINEINDICATION"]
    code = vaccine_code([c.value for c in indications], name)
    unspecified = code["coding"][0]["code"] == _UNSPECIFIED[0]
    product = [{"url": "coded", "valueCodeableConcept": concept(codings, name)}]
    if batch := ctx.r.text(p.element, "batch"):
        product.append({"url": "lotNumber", "valueString": batch})
    return resource(
        "Immunization",
        rid,
        prof.BE_VACCINATION,
        extension=[
            {"url": prof.BE_EXT_RECORDER, "valueReference": ctx.recorder},
            {"url": _ADMINISTERED_PRODUCT, "extension": product},
        ],
        identifier=item_identifier(ctx, p),
        status="not-done" if p.lifecycle == "notadministered" else "completed",
        vaccineCode=code,
        patient=ctx.patient,
        occurrenceDateTime=p.begin,
        recorded=p.recorded or ctx.recorded,
        reasonCode=[concept([to_coding(c)]) for c in indications] if unspecified else None,
        note=notes(p.texts),
    )
