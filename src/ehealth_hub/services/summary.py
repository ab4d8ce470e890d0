"""Assembles one FHIR R4 document Bundle from the Bundles each record source yielded (pure).

FHIR R4 (4.0.1) document rules: ``Bundle.type = document``, a Composition first (LOINC 60591-5
"Patient summary Document"), ``identifier`` and ``timestamp`` set. Decisions:

- one Patient: the first source's Patient (richest demographics) or, when no source answered, a
  be-patient holding only the SSIN; every other source's Patient is dropped and references to it
  are re-pointed at the kept one;
- the source documents' own Compositions are dropped; the hub's Composition has one section per
  source (its resources, practitioners and organisations excluded) so that a reader sees where
  each record came from;
- one Provenance per source (target = its resources, agent = the source as an Organization with
  its hub id, entity = the KMEHR transactions read, policy = the consent decision);
- when a source failed or a transaction could not be mapped: an OperationOutcome entry (one issue
  per problem, naming the source) and a Composition section "Missing information" with
  ``emptyReason = unavailable`` pointing at it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import orjson

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json, coding, concept, full_url, identifier, ref

_SHARED_TYPES: Final = frozenset({"Patient", "Practitioner", "PractitionerRole", "Organization"})
_PROVENANCE: Final = "http://hl7.org/fhir/StructureDefinition/Provenance"
_COMPOSITION: Final = "http://hl7.org/fhir/StructureDefinition/Composition"
_OUTCOME: Final = "http://hl7.org/fhir/StructureDefinition/OperationOutcome"
_EMPTY_REASON: Final = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
_PROVENANCE_ROLE: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
_HUB_ID_SYSTEM: Final = f"{prof.HUB_SYSTEM_BASE}/NamingSystem/record-source"
DECISION_SYSTEM: Final = f"{prof.HUB_SYSTEM_BASE}/NamingSystem/consent-decision"


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one record source gave: translated Bundles, transactions read, and problems."""

    source: str
    """Source key (rsw, abrumet, cozo, vitalink, gp)."""
    display: str
    """Human-readable source name."""
    bundles: tuple[Json, ...] = ()
    transaction_ids: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    """What is missing from this source, in words (no personal data)."""
    failed: bool = False
    """True when the source could not be asked at all."""


@dataclass
class _Merge:
    patient: Json | None = None
    patient_url: str = ""
    entries: dict[str, Json] = field(default_factory=dict)
    per_source: dict[str, dict[str, None]] = field(default_factory=dict)
    """Per source, the fullUrls of its records (an ordered set)."""


def _repoint(resource: Json, aliases: dict[str, str]) -> Json:
    """``resource`` with every reference to an alias replaced (on its JSON text: fullUrls are
    ``urn:uuid:`` values, unique as quoted strings, and the C codec is ~10x a Python walk)."""
    text = orjson.dumps(resource)
    changed = text
    for old, new in aliases.items():
        changed = changed.replace(orjson.dumps(old), orjson.dumps(new))
    if changed is text or changed == text:
        return resource
    repointed: Json = orjson.loads(changed)
    return repointed


def _absorb(merge: _Merge, result: SourceResult) -> None:
    urls = merge.per_source.setdefault(result.source, {})
    for bundle in result.bundles:
        aliases: dict[str, str] = {}
        for entry in bundle.get("entry", []):
            if entry["resource"]["resourceType"] == "Patient":
                if merge.patient is None:
                    merge.patient, merge.patient_url = entry["resource"], entry["fullUrl"]
                if entry["fullUrl"] != merge.patient_url:
                    aliases[entry["fullUrl"]] = merge.patient_url
        for entry in bundle.get("entry", []):
            res, url = entry["resource"], entry["fullUrl"]
            if res["resourceType"] in ("Patient", "Composition"):
                continue
            if url not in merge.entries:  # the same record from two sources is shown once
                merge.entries[url] = _repoint(res, aliases) if aliases else res
            if res["resourceType"] not in _SHARED_TYPES:
                urls[url] = None


def _narrative(text: str) -> Json:
    div = f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(text)}</div>'
    return {"status": "generated", "div": div}


def _minimal_patient(ssin: str, new_id: IdFactory) -> Json:
    return {
        "resourceType": "Patient",
        "id": new_id("patient"),
        "meta": {"profile": [prof.BE_PATIENT]},
        "identifier": [identifier(prof.SSIN_SYSTEM, ssin)],
    }


def _provenance(
    result: SourceResult, urls: list[str], decision_id: str, now: str, rid: str
) -> Json:
    return {
        "resourceType": "Provenance",
        "id": rid,
        "meta": {"profile": [_PROVENANCE]},
        "target": [{"reference": u} for u in urls] or [{"display": "no records"}],
        "recorded": now,
        "policy": [f"urn:ehealth-hub:consent-decision:{decision_id}"],
        "agent": [
            {
                "type": concept([coding(_PROVENANCE_ROLE, "custodian", "Custodian")]),
                "who": {
                    "identifier": identifier(_HUB_ID_SYSTEM, result.source),
                    "display": result.display,
                },
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {"identifier": identifier(prof.KMEHR_ID_BASE + "id-kmehr", t)},
            }
            for t in result.transaction_ids
        ],
    }


def _outcome(results: Sequence[SourceResult], rid: str) -> Json | None:
    issues = [
        {
            "severity": "error" if r.failed else "warning",
            "code": "transient" if r.failed else "processing",
            "diagnostics": f"{r.display}: {problem}",
            "expression": [f"source:{r.source}"],
        }
        for r in results
        for problem in r.problems
    ]
    if not issues:
        return None
    return {
        "resourceType": "OperationOutcome",
        "id": rid,
        "meta": {"profile": [_OUTCOME]},
        "issue": issues,
    }


def assemble(
    ssin: str,
    results: Sequence[SourceResult],
    *,
    decision_id: str,
    author: Json,
    now: datetime,
    new_id: IdFactory,
) -> Json:
    """The document Bundle (JSON) for ``results``; ``author`` is a Reference to the hub."""
    merge = _Merge()
    for result in results:
        _absorb(merge, result)
    if merge.patient is None:
        merge.patient = _minimal_patient(ssin, new_id)
        merge.patient_url = full_url(merge.patient["id"])
    stamp = now.isoformat()
    extra: list[Json] = []
    sections: list[Json] = []
    for result in results:
        urls = list(merge.per_source.get(result.source, {}))
        prov = _provenance(result, urls, decision_id, stamp, new_id(f"provenance-{result.source}"))
        extra.append(prov)
        section: Json = {
            "title": result.display,
            "code": concept([coding(_HUB_ID_SYSTEM, result.source)]),
        }
        if urls:
            section["entry"] = [{"reference": u} for u in urls]
        else:  # cmp-1: an empty section still says why, in its narrative
            reason = "unavailable" if result.failed else "nilknown"
            section["emptyReason"] = concept([coding(_EMPTY_REASON, reason)])
            section["text"] = _narrative(f"{result.display}: no records ({reason})")
        sections.append(section)
    problems = _outcome(results, new_id("outcome"))
    if problems is not None:
        extra.append(problems)
        sections.append(
            {
                "title": "Missing information",
                "entry": [ref(problems["id"])],
            }
        )
    composition_id = new_id("composition")
    composition: Json = {
        "resourceType": "Composition",
        "id": composition_id,
        "meta": {"profile": [_COMPOSITION]},
        "status": "final",
        "type": concept([coding(prof.LOINC_SYSTEM, "60591-5", "Patient summary Document")]),
        "subject": {"reference": merge.patient_url},
        "date": stamp,
        "author": [author],
        "title": "Patient summary (ehealth-hub)",
        "section": sections,
    }
    entries = [
        {"fullUrl": full_url(composition_id), "resource": composition},
        {"fullUrl": merge.patient_url, "resource": merge.patient},
        *({"fullUrl": url, "resource": res} for url, res in merge.entries.items()),
        *({"fullUrl": full_url(res["id"]), "resource": res} for res in extra),
    ]
    bundle_id = new_id("bundle")
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {
            "lastUpdated": stamp,
            "profile": ["http://hl7.org/fhir/StructureDefinition/Bundle"],
        },
        "identifier": identifier(f"{prof.HUB_SYSTEM_BASE}/NamingSystem/summary", bundle_id),
        "type": "document",
        "timestamp": stamp,
        "entry": entries,
    }
