"""The same clinical fact reported by several sources, kept once (pure; used by ``$summary``).

A patient's regional hub, Vitalink and GP system often hold the same Sumehr, and a medication
scheme repeats the Sumehr's medication: read together they report one fact several times.

**Same fact.** Two resources state the same fact when all of these hold:

1. the same ``resourceType``;
2. the same *what*: the set of (system, code) of the codings of the element that names the fact
   (Condition/AllergyIntolerance/Observation ``code``, MedicationStatement
   ``medicationCodeableConcept``, Immunization ``vaccineCode``, Consent ``provision.code``) is
   equal, or, when neither has a coding, the element's ``text`` is equal; a resource with neither
   is never merged with another;
3. the same *when* (and, for an Observation, the same value): equal JSON values of the time fields
   (Condition ``onset``/``abatement``, AllergyIntolerance ``onset``, MedicationStatement
   ``effective``, Immunization ``occurrence``, Observation ``effective`` and ``value``, Consent
   ``provision.period.end``), an absent field only equal to an absent one. A patient will's
   ``provision.period.start`` is left out: be-patientwill requires it, so a KMEHR will without a
   beginmoment gets its recording date there, which differs between two copies of one will;
4. statuses that agree: equal, or one of them unknown. The status is Condition and
   AllergyIntolerance ``clinicalStatus`` + ``verificationStatus``, else ``status``; ``unknown``
   (a medication-scheme line: the scheme does not say whether the patient takes it) or no status
   asserts nothing, so it agrees with any status. A fact whose statuses disagree (``active`` in
   one source, ``stopped`` in another) is a conflict the reader must see: kept twice.

Two items of one transaction are never the same fact, whatever they say: a source that writes a
product on two medication lines (two posologies) means two lines. Posology, notes, recorder and
other details are no part of the fact: the kept copy's are shown.

Resources of other types (RelatedPerson, OperationOutcome...) are merged only when they are the
same resource (same ``fullUrl``, i.e. the same translated content).

**Which resource is kept.** The first reported (in source order, then document order) whose
status is known, else the first reported; every other one's ``fullUrl`` becomes an alias of the
kept one. Every (source, transaction) that reported the fact is kept with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from ehealth_hub.fhir.builders import Json

Reporter = tuple[str, str | None]
"""(source key, KMEHR transaction id or None when the caller did not say)."""
_WHAT: Final[dict[str, Callable[[Json], Any]]] = {
    "Condition": lambda r: r.get("code"),
    "AllergyIntolerance": lambda r: r.get("code"),
    "Observation": lambda r: r.get("code"),
    "MedicationStatement": lambda r: r.get("medicationCodeableConcept"),
    "Immunization": lambda r: r.get("vaccineCode"),
    "Consent": lambda r: (r.get("provision", {}).get("code") or [None])[0],
}
_WHEN: Final[dict[str, tuple[str, ...]]] = {
    "Condition": ("onsetDateTime", "onsetPeriod", "abatementDateTime", "abatementPeriod"),
    "AllergyIntolerance": ("onsetDateTime", "onsetPeriod"),
    "Observation": (
        "effectiveDateTime",
        "effectivePeriod",
        "valueQuantity",
        "valueString",
        "valueCodeableConcept",
        "valueBoolean",
        "valueInteger",
    ),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod"),
    "Immunization": ("occurrenceDateTime", "occurrenceString"),
    "Consent": (),
}
_CODED_STATUS: Final = frozenset({"Condition", "AllergyIntolerance"})
UNKNOWN: Final = ""


def _what(res: Json) -> tuple[str, frozenset[tuple[str, str]] | str] | None:
    element = _WHAT[res["resourceType"]](res)
    if not isinstance(element, dict):
        return None
    codes = frozenset((c.get("system", ""), c.get("code", "")) for c in element.get("coding", []))
    if codes:
        return ("coded", codes)
    text = element.get("text")
    return ("text", text) if isinstance(text, str) and text else None


def _when(res: Json) -> bytes:
    kind = res["resourceType"]
    values = {k: res.get(k) for k in _WHEN[kind]}
    if kind == "Consent":  # the end of the will only (rule 3; provision.code is the *what*)
        values = {"end": res.get("provision", {}).get("period", {}).get("end")}
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


def fact_key(res: Json) -> tuple[str, Any, bytes] | None:
    """What identifies ``res`` as a fact (rules 1-3 of the module docstring), or None when it
    is never merged with another resource."""
    kind = res["resourceType"]
    if kind not in _WHAT:
        return None
    what = _what(res)
    return None if what is None else (kind, what, _when(res))


def status_of(res: Json) -> str:
    """The status compared by rule 4; :data:`UNKNOWN` when the resource asserts none."""
    if res["resourceType"] in _CODED_STATUS:
        codes = [
            c.get("code", "")
            for k in ("clinicalStatus", "verificationStatus")
            for c in res.get(k, {}).get("coding", [])
        ]
        return "|".join(codes)
    status = res.get("status")
    return UNKNOWN if status in (None, "unknown") else str(status)


@dataclass
class Fact:
    """One fact: the resource kept, its ``fullUrl``, and who reported it."""

    url: str
    resource: Json
    status: str
    reporters: dict[Reporter, None] = field(default_factory=dict)
    """Every (source, transaction) that reported it, in order (an ordered set)."""
    origins: set[tuple[str, int]] = field(default_factory=set)
    """The (source, Bundle index) pairs it came from: a transaction's items are never merged."""


@dataclass
class Facts:
    """The facts of several sources, each once (:meth:`resolved_aliases` maps each dropped
    ``fullUrl`` to the ``fullUrl`` of the fact kept in its place)."""

    facts: list[Fact] = field(default_factory=list)
    _aliases: dict[str, str] = field(default_factory=dict)
    _cursors: dict[Any, int] = field(default_factory=dict)
    _by_url: dict[str, Fact] = field(default_factory=dict)
    _by_key: dict[Any, list[Fact]] = field(default_factory=dict)

    def add(self, url: str, res: Json, reporter: Reporter, origin: tuple[str, int]) -> None:
        """Record that ``reporter`` reported ``res`` (``fullUrl`` ``url``) in the translated
        transaction ``origin`` (source key, index of the Bundle in what that source gave)."""
        same = self._by_url.get(url) or self._match(res, origin)
        if same is None:
            same = Fact(url, res, status_of(res))
            self.facts.append(same)
            key = fact_key(res)
            if key is not None:
                self._by_key.setdefault(key, []).append(same)
        elif same.status == UNKNOWN and (status := status_of(res)) != UNKNOWN:
            self._aliases[same.url] = url  # the first known status is the one kept
            same.url, same.resource, same.status = url, res, status
        elif url != same.url:
            self._aliases[url] = same.url
        self._by_url[url] = same
        same.reporters[reporter] = None
        same.origins.add(origin)

    def _match(self, res: Json, origin: tuple[str, int]) -> Fact | None:
        """The first fact of ``res``'s key that agrees on status and that ``origin`` did not
        report yet. A cursor per (key, origin, status) skips the facts passed over before: what
        made them fail (another known status; ``origin`` among their origins) never changes, so
        a 21,000-item Sumehr read from two sources merges in linear time."""
        key = fact_key(res)
        if key is None:
            return None
        status = status_of(res)
        candidates = self._by_key.get(key, [])
        slot = (key, origin, status)
        index = self._cursors.get(slot, 0)
        found: Fact | None = None
        while found is None and index < len(candidates):
            fact = candidates[index]
            index += 1
            agrees = status == UNKNOWN or fact.status in (UNKNOWN, status)
            if agrees and origin not in fact.origins:
                found = fact
        self._cursors[slot] = index
        return found

    def resolved_aliases(self) -> dict[str, str]:
        """Every dropped ``fullUrl`` -> the ``fullUrl`` of the copy kept in the end."""
        out = {}
        for old in self._aliases:
            new = self._aliases[old]
            while new in self._aliases:
                new = self._aliases[new]
            out[old] = new
        return out
