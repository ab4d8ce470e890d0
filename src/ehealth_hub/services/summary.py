"""Assembles one FHIR R4 document Bundle from the Bundles each record source yielded (pure).

FHIR R4 (4.0.1) document rules: ``Bundle.type = document``, a Composition first (LOINC 60591-5
"Patient summary Document"), ``identifier`` and ``timestamp`` set. Decisions:

- one Patient: the first source's Patient (richest demographics) or, when no source answered, a
  be-patient holding only the SSIN; every other source's Patient is dropped and references to it
  are re-pointed at the kept one;
- the same fact from several sources (RSW, Vitalink, the GP system; a Sumehr and a medication
  scheme) appears once: :mod:`ehealth_hub.services.summary_facts` says what "the same fact" is
  and which copy is kept; references to a dropped copy are re-pointed at the kept one, and
  practitioners and organisations no kept resource refers to are dropped;
- the source documents' own Compositions are dropped; the hub's Composition is the layout of
  :mod:`ehealth_hub.fhir.composition` (sections by clinical topic, LOINC-coded, as ``translate``
  writes a Sumehr); the IPS sections that are always present say ``unavailable`` when empty and
  a source failed, else ``nilknown``;
- one Provenance per distinct set of reporters: its targets are the facts those reported, with
  an agent per source (custodian, the hub's source key) and an entity per KMEHR transaction
  read, so every fact is the target of exactly one Provenance naming every source that reported
  it; policy = the consent decision;
- when a source failed or a transaction could not be mapped: an OperationOutcome entry (one issue
  per problem, naming the source), listed in the section "Missing information".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import orjson

from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json, coding, concept, full_url, identifier
from ehealth_hub.fhir.composition import composition as build_composition
from ehealth_hub.services.summary_facts import Fact, Facts, Reporter

_SHARED_TYPES: Final = frozenset({"Patient", "Practitioner", "PractitionerRole", "Organization"})
_PROVENANCE: Final = "http://hl7.org/fhir/StructureDefinition/Provenance"
_OUTCOME: Final = "http://hl7.org/fhir/StructureDefinition/OperationOutcome"
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
    aliases: dict[str, str] = field(default_factory=dict)
    """Every other source's Patient ``fullUrl`` -> the kept Patient's."""
    shared: dict[str, Json] = field(default_factory=dict)
    """Patient-independent parties (practitioners, roles, organisations) by ``fullUrl``."""
    facts: Facts = field(default_factory=Facts)


_URN: Final = re.compile(rb'"(urn:uuid:[0-9a-f-]+)"')


def _repoint(resource: Json, aliases: dict[str, str]) -> tuple[Json, set[str]]:
    """``resource`` with every reference to an alias replaced, and the ``urn:uuid:`` references
    it holds (one pass over its JSON text: ~10x a Python walk of the dict)."""
    text = orjson.dumps(resource)
    found: set[str] = set()

    def swap(match: re.Match[bytes]) -> bytes:
        url = match.group(1).decode()
        url = aliases.get(url, url)
        found.add(url)
        return orjson.dumps(url)

    changed = _URN.sub(swap, text)
    return (resource if changed == text else orjson.loads(changed)), found


def _absorb(merge: _Merge, result: SourceResult) -> None:
    for index, bundle in enumerate(result.bundles):
        tx = result.transaction_ids[index] if index < len(result.transaction_ids) else None
        for entry in bundle.get("entry", []):
            res, url = entry["resource"], entry["fullUrl"]
            kind = res["resourceType"]
            if kind == "Patient":
                if merge.patient is None:
                    merge.patient, merge.patient_url = res, url
                elif url != merge.patient_url:
                    merge.aliases[url] = merge.patient_url
            elif kind in _SHARED_TYPES:
                merge.shared.setdefault(url, res)
            elif kind != "Composition":
                merge.facts.add(url, res, (result.source, tx), (result.source, index))


def _kept(merge: _Merge) -> tuple[list[tuple[str, Json]], list[tuple[str, Json]]]:
    """The facts, and the parties they (or the Patient) refer to, with references repointed."""
    aliases = {**merge.aliases, **merge.facts.resolved_aliases()}
    facts: list[tuple[str, Json]] = []
    wanted: set[str] = set()
    for fact in merge.facts.facts:
        res, refs = _repoint(fact.resource, aliases)
        facts.append((fact.url, res))
        wanted |= refs
    merge.patient, refs = _repoint(merge.patient or {}, aliases)
    wanted |= refs
    parties: dict[str, Json] = {}
    while pending := [u for u in wanted if u in merge.shared and u not in parties]:
        wanted = set()
        for url in pending:  # roles refer to practitioners and organisations
            parties[url], refs = _repoint(merge.shared[url], aliases)
            wanted |= refs
    return facts, [(u, r) for u, r in merge.shared.items() if u in parties]


def _minimal_patient(ssin: str, new_id: IdFactory) -> Json:
    return {
        "resourceType": "Patient",
        "id": new_id("patient"),
        "meta": {"profile": [prof.BE_PATIENT]},
        "identifier": [identifier(prof.SSIN_SYSTEM, ssin)],
    }


def _provenances(
    facts: list[Fact], displays: dict[str, str], decision_id: str, now: str, new_id: IdFactory
) -> list[Json]:
    """One Provenance per distinct set of reporters: its targets are the facts that set reported,
    an agent per source and an entity per KMEHR transaction read."""
    grouped: dict[tuple[Reporter, ...], list[str]] = {}
    for fact in facts:
        grouped.setdefault(tuple(fact.reporters), []).append(fact.url)
    return [
        {
            "resourceType": "Provenance",
            "id": new_id("provenance:" + "|".join(f"{s}/{t}" for s, t in reporters)),
            "meta": {"profile": [_PROVENANCE]},
            "target": [{"reference": u} for u in urls],
            "recorded": now,
            "policy": [f"urn:ehealth-hub:consent-decision:{decision_id}"],
            "agent": [
                {
                    "type": concept([coding(_PROVENANCE_ROLE, "custodian", "Custodian")]),
                    "who": {
                        "identifier": identifier(_HUB_ID_SYSTEM, source),
                        "display": displays[source],
                    },
                }
                for source in dict.fromkeys(s for s, _ in reporters)
            ],
            "entity": [
                {
                    "role": "source",
                    "what": {
                        "identifier": identifier(prof.KMEHR_ID_BASE + "id-kmehr", tx),
                        "display": f"{displays[source]}: {tx}",
                    },
                }
                for source, tx in reporters
                if tx is not None
            ],
        }
        for reporters, urls in grouped.items()
    ]


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
    facts, parties = _kept(merge)
    displays = {r.source: r.display for r in results}
    extra = _provenances(merge.facts.facts, displays, decision_id, stamp, new_id)
    listed = [res for _, res in facts]
    problems = _outcome(results, new_id("outcome"))
    if problems is not None:
        extra.append(problems)
        listed.append(problems)
    composition = build_composition(
        new_id("composition"),
        listed,
        subject={"reference": merge.patient_url},
        date=stamp,
        author=[author],
        title="Patient summary (ehealth-hub)",
        empty_reason="unavailable" if any(r.failed for r in results) else "nilknown",
    )
    entries = [
        {"fullUrl": full_url(composition["id"]), "resource": composition},
        {"fullUrl": merge.patient_url, "resource": merge.patient},
        *({"fullUrl": url, "resource": res} for url, res in (*facts, *parties)),
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
