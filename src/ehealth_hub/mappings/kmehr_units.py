"""KMEHR administration units (CD-ADMINISTRATIONUNIT, KMEHR 1.38) -> UCUM or SNOMED CT for FHIR R4
``Quantity`` (doses of HL7-BE be-medicationline).

Where published: the HL7-BE KMEHR -> FHIR converter's outputs paired with their inputs in
../shared/kmehr-corpus/smals-jy-KMEHR-tests (``output/ms/TS-03-CD-ADMINISTRATIONUNIT.xml`` vs
``output/fhir-ms/TS-03-CD-ADMINISTRATIONUNIT.json``, every unit of the table once) give UCUM for
the measurement units and 00001/00007/00016 and SNOMED CT units of presentation for 00002-00030
(but 00007 and 00016) and ``measure``; hl7-be-terminology publishes no ConceptMap for the table.
Beyond that test, iu, liter, meq, micrograms and mmol are unambiguous measurement units and get
their UCUM code too. Mapped units keep the KMEHR unit alongside as an
``iso21090-PQ-translation`` extension of the Quantity (value, KMEHR table and code), so nothing
the message said is lost; units with no published mapping (ampoule, bottle, piece, syringe...)
keep the KMEHR code as the Quantity's system/code.
"""

from __future__ import annotations

from typing import Final

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import Json, kmehr_table_system

UNIT_TABLES: Final = ("CD-ADMINISTRATIONUNIT", "CD-ADMINISTRATION-UNIT", "CD-UNIT")
UCUM: Final = {
    "00001": "5.mL",
    "00007": "[drp]",
    "00016": "mL",
    "cm": "cm",
    "dropsperminute": "[drp]/min",
    "gm": "g",
    "internationalunits": "[IU]",
    "iu": "[IU]",
    "liter": "L",
    "mck/h": "ug/h",
    "mck/kg/minute": "ug/kg/min",
    "meq": "meq",
    "mg": "mg",
    "mg/h": "mg/h",
    "mg/ml": "mg/mL",
    "micrograms": "ug",
    "ml/h": "mL/h",
    "mmol": "mmol",
    "tbl": "{TBL}",
    "tsp": "[tsp_m]",
    "unt/h": "[IU]/h",
}
"""KMEHR administration units with a UCUM equivalent (the HL7-BE outputs use the same); other
units (tablet, puff, sachet...) keep their KMEHR code. 00001 is the 5 mL spoon."""
SNOMED_UNITS: Final = {
    "00002": "732978007",
    "00003": "413568008",
    "00004": "428641000",
    "00005": "336624003",
    "00006": "408102007",
    "00008": "419672006",
    "00009": "732996003",
    "00010": "129331004",
    "00011": "422237004",
    "00012": "257867005",
    "00013": "732989000",
    "00014": "336624003",
    "00015": "337087003",
    "00017": "73153001",
    "00018": "34258004",
    "00019": "429587008",
    "00020": "419702001",
    "00021": "732988008",
    "00022": "733006000",
    "00023": "415215001",
    "00024": "429671000",
    "00025": "733006000",
    "00026": "430293001",
    "00027": "418530008",
    "00028": "116251003",
    "00029": "428672001",
    "00030": "426148002",
    "measure": "767524001",
}
"""CD-ADMINISTRATIONUNIT -> SNOMED CT unit of presentation, as the HL7-BE converter maps them
(smals-jy-KMEHR-tests output/fhir-ms/TS-03-CD-ADMINISTRATIONUNIT.json vs output/ms/TS-03...)."""
PQ_TRANSLATION: Final = "http://hl7.org/fhir/StructureDefinition/iso21090-PQ-translation"


def set_unit(quantity: Json, table: str, code: str) -> None:
    """Set the unit of ``quantity``: UCUM or SNOMED CT where published, KMEHR kept alongside."""
    kmehr = {"unit": code, "system": kmehr_table_system(table), "code": code}
    standard = UCUM.get(code)
    system = prof.UCUM_SYSTEM
    if standard is None and (standard := SNOMED_UNITS.get(code)) is not None:
        system = prof.SNOMED_SYSTEM
    if standard is None:
        quantity.update(kmehr)
        return
    translation = {"url": PQ_TRANSLATION, "valueQuantity": {"value": quantity["value"], **kmehr}}
    quantity.update(extension=[translation], unit=code, system=system, code=standard)
