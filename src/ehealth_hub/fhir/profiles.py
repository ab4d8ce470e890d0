"""Canonical URLs of the Belgian FHIR profiles and naming systems (HL7 Belgium, FHIR 4.0.1).

Sources: the HL7-BE implementation guides core 2.x, core-clinical, allergy, vaccination,
eattestation and mycarenet, as packaged in ../shared/be-fhir-examples/packages. These are the only
place the hub spells these URLs; every resource the hub emits sets ``meta.profile`` from here.
"""

from __future__ import annotations

from typing import Final

from ehealth_hub.core import identifiers

FHIR_VERSION: Final = "4.0.1"

_BE: Final = "https://www.ehealth.fgov.be/standards/fhir"

# -- naming systems (Identifier.system) ------------------------------------------------------
# The identifiers' own systems are defined with the identifiers (the lower layer).
SSIN_SYSTEM: Final = identifiers.SSIN_SYSTEM
NIHDI_SYSTEM: Final = identifiers.NIHDI_SYSTEM
CBE_SYSTEM: Final = identifiers.CBE_SYSTEM
INSURANCE_NUMBER_SYSTEM: Final = f"{_BE}/core/NamingSystem/insurancenumber"
INSURANCE_MEMBERSHIP_SYSTEM: Final = f"{_BE}/core/NamingSystem/insurancymembership"
CNK_SYSTEM: Final = f"{_BE}/medication/NamingSystem/be-ns-cnk-codes"
"""CNK product codes: the canonical URL of the BE medication package's NamingSystem (1.1.0), the
system be-vaccination's invariant be-rule-vaccination-2 requires and HL7-BE's reference
conversions (fhir-ms) use. The medication package's NamingSystem also lists
``.../medication/NamingSystem/cnk-codes`` as preferred uniqueId (its examples use it), but no
profile checks that one; see docs/medication-reference.md."""

# -- profiles (meta.profile) -----------------------------------------------------------------
BE_PATIENT: Final = f"{_BE}/core/StructureDefinition/be-patient"
BE_PRACTITIONER: Final = f"{_BE}/core/StructureDefinition/be-practitioner"
BE_PRACTITIONER_ROLE: Final = f"{_BE}/core/StructureDefinition/be-practitionerrole"
BE_ORGANIZATION: Final = f"{_BE}/core/StructureDefinition/be-organization"
BE_DOCUMENT_REFERENCE: Final = f"{_BE}/core/StructureDefinition/be-documentreference"
BE_CONSENT: Final = f"{_BE}/core/StructureDefinition/be-Consent"
BE_PROBLEM: Final = f"{_BE}/core-clinical/StructureDefinition/be-problem"
BE_ALLERGY_INTOLERANCE: Final = f"{_BE}/allergy/StructureDefinition/be-allergyintolerance"
BE_VACCINATION: Final = f"{_BE}/vaccination/StructureDefinition/be-vaccination"
BE_EATTESTATION_CLAIM: Final = f"{_BE}/eattestation/StructureDefinition/be-eattestation-claim"

# -- the hub's own code systems ----------------------------------------------------------------
HUB_SYSTEM_BASE: Final = "https://ehealth-hub.be/fhir"
"""Base of the hub's own CodeSystem/NamingSystem URLs (request ids, task ids, reasons)."""
OUTBOUND_MESSAGE_ID_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/outbound-message-id"
"""The id of a message the hub delivers (Task.identifier; the ClaimResponse answering it)."""

# -- added by the mappings engineer (KMEHR <-> FHIR) -------------------------------------------
BE_MEDICATION_LINE: Final = f"{_BE}/medication/StructureDefinition/be-medicationline"
BE_PATIENT_WILL: Final = f"{_BE}/patientwill/StructureDefinition/be-patientwill"
BE_OBSERVATION: Final = f"{_BE}/core-clinical/StructureDefinition/be-observation"
BE_EXT_RECORDER: Final = f"{_BE}/core/StructureDefinition/be-ext-recorder"
CD_HCPARTY_SYSTEM: Final = f"{_BE}/core/CodeSystem/cd-hcparty"
CD_CONTACT_PERSON_SYSTEM: Final = f"{_BE}/core/CodeSystem/cd-contact-person"
CD_FED_COUNTRY_SYSTEM: Final = f"{_BE}/core/CodeSystem/cd-fed-country"
PROBLEM_CATEGORY_SYSTEM: Final = f"{_BE}/core-clinical/CodeSystem/be-cs-problem-category"
PATIENT_WILL_CATEGORY_SYSTEM: Final = f"{_BE}/patientwill/CodeSystem/be-cs-patientwill-category"
PATIENT_WILL_CODE_SYSTEM: Final = f"{_BE}/patientwill/CodeSystem/be-cs-patientwill-code"
PATIENT_RIGHTS_LAW: Final = "http://www.ejustice.just.fgov.be/eli/loi/2002/08/22/2002022737/justel"
"""The Belgian law of 22 August 2002 on patients' rights (art. 8 par. 4: a written advance refusal
of an intervention binds the practitioner): the policy of a patient will (FHIR R4 ppc-1 wants a
policy or policyRule on every Consent; be-patientwill does not name one)."""
ICPC2_SYSTEM: Final = "http://hl7.org/fhir/sid/icpc-2"
ICD10_SYSTEM: Final = "http://hl7.org/fhir/sid/icd-10"
SNOMED_SYSTEM: Final = "http://snomed.info/sct"
UCUM_SYSTEM: Final = "http://unitsofmeasure.org"
LOINC_SYSTEM: Final = "http://loinc.org"
KMEHR_TABLE_BASE: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/kmehr-"
"""KMEHR tables without an official FHIR CodeSystem: ``<base><s-lowercase>`` (e.g. kmehr-cd-item);
the KMEHR table version (SV) goes to ``Coding.version``."""
KMEHR_ID_BASE: Final = f"{HUB_SYSTEM_BASE}/NamingSystem/kmehr-"
"""KMEHR ids (ID-KMEHR, LOCAL with SL) as ``Identifier.system``: ``<base><s-lowercase>[/<sl>]``."""
