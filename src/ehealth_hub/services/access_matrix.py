"""Which sections of ``Patient/$summary`` each kind of care provider may see: data, not code.

Belgian hubs restrict what each kind of care provider may see (the hubs' access matrix, by
provider type and document type); a psychologist is not a physician. Two packaged tables:

* ``data/provider_types.csv``: the eHealth quality the STS certifies (the token's quality) ->
  the provider type, with its CD-HCPARTY code, validity and source;
* ``data/access_matrix.csv``: provider type x summary section (the resource topics of
  :data:`ehealth_hub.fhir.composition.SECTIONS`: allergies, problems, risks, medications,
  immunizations, patientwills, contacts, other) -> ``allow`` or ``deny``, with validity, basis and
  source. What the table does not allow on the day is denied (default deny), and a quality the
  first table does not know sees no section at all.

:meth:`AccessMatrix.restrict` applies it to an assembled summary: the resources of a section the
provider may not see are left out with their section, Provenance no longer names them, and the
OperationOutcome (section "Missing information") says which sections were withheld and why.
Invalid tables stop the hub at start-up (ConfigurationError naming the line and the rule).
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.fhir.builders import Json, full_url
from ehealth_hub.fhir.composition import REQUIRED, SECTIONS, section_of, sections

SUMMARY_SECTIONS: Final = tuple(k for k in SECTIONS if k != "missing")
"""The sections the matrix rules on ("Missing information" is the hub's own, always shown)."""
TYPES_COLUMNS: Final = (
    "quality",
    "provider_type",
    "cd_hcparty",
    "label",
    "valid_from",
    "valid_to",
    "source",
)
MATRIX_COLUMNS: Final = (
    "provider_type",
    "section",
    "access",
    "valid_from",
    "valid_to",
    "basis",
    "source",
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One cell of the matrix over one period."""

    provider_type: str
    section: str
    allowed: bool
    valid_from: date
    valid_to: date | None
    basis: str
    source: str

    def covers(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


def _bad(origin: str, line: int, rule: str, detail: str) -> ConfigurationError:
    return ConfigurationError(
        f"{origin} line {line}: {detail}", system="access-matrix", operation="load", code=rule
    )


def _rows(text: str, columns: tuple[str, ...], origin: str) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = set(columns) - set(reader.fieldnames or ())
    if missing:
        raise _bad(origin, 1, "columns", f"missing columns {sorted(missing)}")
    for line, raw in enumerate(reader, start=2):
        if not raw.get("source", "").startswith("https://"):
            raise _bad(origin, line, "source", "every row needs its https source")
        yield line, raw


def _dates(raw: dict[str, str], origin: str, line: int) -> tuple[date, date | None]:
    try:
        start = date.fromisoformat(raw["valid_from"])
        end = date.fromisoformat(raw["valid_to"]) if raw["valid_to"] else None
    except ValueError as exc:
        raise _bad(origin, line, "date", "valid_from/valid_to must be YYYY-MM-DD") from exc
    if end is not None and end < start:
        raise _bad(origin, line, "period", "valid_to is before valid_from")
    return start, end


def _read(name: str, path: Path | None) -> tuple[str, str]:
    if path is not None:
        return path.read_text("utf-8"), str(path)
    return (importlib.resources.files("ehealth_hub.data") / name).read_text("utf-8"), name


class AccessMatrix:
    """The provider types and the matrix; see the module docstring."""

    def __init__(self, types: dict[str, tuple[str, date, date | None]], rules: tuple[Rule, ...]):
        self.types, self.rules = types, rules

    @classmethod
    def load(cls, types_file: Path | None = None, matrix_file: Path | None = None) -> AccessMatrix:
        """The packaged tables (or the files given), validated."""
        text, origin = _read("provider_types.csv", types_file)
        types: dict[str, tuple[str, date, date | None]] = {}
        for line, raw in _rows(text, TYPES_COLUMNS, origin):
            if raw["quality"] in types:
                raise _bad(origin, line, "duplicate", f"quality {raw['quality']!r} twice")
            types[raw["quality"]] = (raw["provider_type"], *_dates(raw, origin, line))
        text, origin = _read("access_matrix.csv", matrix_file)
        known = {t for t, _, _ in types.values()}
        rules = tuple(
            cls._rule(line, raw, origin, known) for line, raw in _rows(text, MATRIX_COLUMNS, origin)
        )
        return cls(types, rules)

    @staticmethod
    def _rule(line: int, raw: dict[str, str], origin: str, known: set[str]) -> Rule:
        if raw["provider_type"] not in known:
            raise _bad(
                origin, line, "provider-type", f"unknown provider type {raw['provider_type']!r}"
            )
        if raw["section"] not in SUMMARY_SECTIONS:
            raise _bad(origin, line, "section", f"section must be one of {list(SUMMARY_SECTIONS)}")
        if raw["access"] not in ("allow", "deny"):
            raise _bad(origin, line, "access", "access must be allow or deny")
        start, end = _dates(raw, origin, line)
        return Rule(
            raw["provider_type"],
            raw["section"],
            raw["access"] == "allow",
            start,
            end,
            raw["basis"],
            raw["source"],
        )

    def provider_type(self, quality: str, on: date) -> str | None:
        """The provider type of an eHealth quality on ``on`` (None: unknown, sees nothing)."""
        found = self.types.get(quality)
        if found is None or found[1] > on or (found[2] is not None and on > found[2]):
            return None
        return found[0]

    def allowed(self, quality: str, on: date) -> frozenset[str]:
        """The sections a provider of this quality may see on ``on`` (default deny)."""
        kind = self.provider_type(quality, on)
        cells = [r for r in self.rules if r.provider_type == kind and r.covers(on)]
        denied = {r.section for r in cells if not r.allowed}  # a deny beats an allow
        return frozenset(r.section for r in cells if r.allowed and r.section not in denied)

    def restrict(self, bundle: Json, quality: str, on: date) -> Json:
        """``bundle`` (an assembled summary) without the sections ``quality`` may not see."""
        allowed = self.allowed(quality, on)
        kind = self.provider_type(quality, on) or f"unknown ({quality or 'no quality'})"
        entries = bundle["entry"]
        dropped = {
            e["fullUrl"]
            for e in entries
            if (s := section_of(e["resource"])) is not None and s != "missing" and s not in allowed
        }
        present = {section_of(e["resource"]) for e in entries if e["fullUrl"] in dropped}
        withheld = [
            s for s in SUMMARY_SECTIONS if s not in allowed and (s in present or s in REQUIRED)
        ]
        if not withheld:
            return bundle
        kept = [e for e in entries if e["fullUrl"] not in dropped]
        kept = _without_provenance_of(kept, dropped)
        kept = _with_notice(kept, withheld, kind, bundle["id"])
        return {**bundle, "entry": _recomposed(kept, allowed)}


def _without_provenance_of(entries: list[Json], dropped: set[str]) -> list[Json]:
    out = []
    for entry in entries:
        res = entry["resource"]
        if res["resourceType"] == "Provenance":
            targets = [t for t in res["target"] if t["reference"] not in dropped]
            if not targets:
                continue
            entry = {**entry, "resource": {**res, "target": targets}}
        out.append(entry)
    return out


def _with_notice(entries: list[Json], withheld: list[str], kind: str, bundle_id: str) -> list[Json]:
    issues = [
        {
            "severity": "information",
            "code": "suppressed",
            "diagnostics": f"{SECTIONS[s][0]}: withheld, a {kind} may not see this section "
            "(access matrix by provider type)",
            "expression": [f"Composition.section:{s}"],
        }
        for s in withheld
    ]
    for index, entry in enumerate(entries):
        res = entry["resource"]
        if res["resourceType"] == "OperationOutcome":
            entries[index] = {**entry, "resource": {**res, "issue": [*res["issue"], *issues]}}
            return entries
    rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"withheld:{bundle_id}"))
    outcome: Json = {
        "resourceType": "OperationOutcome",
        "id": rid,
        "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/OperationOutcome"]},
        "issue": issues,
    }
    return [*entries, {"fullUrl": full_url(rid), "resource": outcome}]


def _recomposed(entries: list[Json], allowed: frozenset[str]) -> list[Json]:
    """The entries with the Composition's sections rebuilt from what is left (a withheld section
    is left out, even one IPS would list empty)."""
    composition = entries[0]["resource"]
    reason = next(
        (
            c["code"]
            for s in composition.get("section", [])
            for c in s.get("emptyReason", {}).get("coding", [])
        ),
        "nilknown",
    )
    listed = [e["resource"] for e in entries[1:] if section_of(e["resource"]) is not None]
    rebuilt = [
        s
        for s in sections(listed, empty_reason=reason)
        if _key(s) in allowed or _key(s) == "missing"
    ]
    return [{**entries[0], "resource": {**composition, "section": rebuilt}}, *entries[1:]]


def _key(section: Json) -> str:
    return next(k for k, (title, _) in SECTIONS.items() if title == section["title"])
