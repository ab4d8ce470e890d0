"""KMEHR vaccine items -> FHIR R4 Immunization (HL7-BE be-vaccination).

Mapping decisions:

- ``vaccine`` -> Immunization (be-vaccination): product CNK (string, zeros kept) + name as
  vaccineCode and, as be-vaccination means it, as the ``coded`` part of the
  ``be-ext-administeredProduct`` extension; ``batch`` -> that extension's ``lotNumber``
  (be-vaccination forbids ``Immunization.lotNumber``). Known gap: be-vaccination binds
  vaccineCode (required) to be-vs-vaccine-code (SNOMED CT vaccine types), and no published
  CNK -> SNOMED CT table is at hand, so vaccineCode keeps the CNK (once such a table exists, the
  SNOMED code replaces it there while the product stays in the extension). Every
  CD-VACCINEINDICATION is a ``reasonCode`` (KMEHR gives no dose number, so ``protocolApplied``
  would need an invented one); lifecycle
  ``notadministered`` -> ``not-done``. A vaccine without a date is refused
  (rule ``vaccine.occurrence``).
"""

from __future__ import annotations

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import Json, concept, resource
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


def immunization(ctx: ItemContext, p: Parsed, rid: str) -> Json:
    """vaccine -> Immunization (be-vaccination)."""
    if p.begin is None:
        raise fail(p.element, "vaccine.occurrence", "vaccine item without a beginmoment")
    codings, name = products(ctx.r, p.element)
    if not codings and not name:
        raise fail(p.element, "vaccine.product", "vaccine item without a product")
    indications = [c for c in p.codes if c.s == "CD-VACCINEINDICATION"]
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
        vaccineCode=concept(codings, name),
        patient=ctx.patient,
        occurrenceDateTime=p.begin,
        recorded=p.recorded or ctx.recorded,
        reasonCode=[concept([to_coding(c)]) for c in indications],
        note=notes(p.texts),
    )
