"""Field-by-field agreement of the hub's medication-scheme mapping with Smals' HL7-BE outputs.

The reference set is ``smals-jy-KMEHR-tests/output/fhir-ms/X.json`` (HL7-BE KMEHR -> FHIR
converter output) for the KMEHR input ``output/ms/X.xml`` (see ../shared/kmehr-corpus/SOURCES.md).
Lines are paired by product (code values and text, in document order within one product), and
each field is compared as :data:`FIELDS` says. Both sides carry run-time values (generation
stamps, UUIDv7 identifiers): those are never compared.

Run ``PYTHONPATH=src python -m tests.mappings.fhir_ms_reference [SHARED_DIR]`` to print the table.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ehealth_hub.fhir.builders import uuid5_ids
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr

Json = dict[str, Any]
NOW = datetime(2026, 11, 20, 9, 45, tzinfo=UTC)
_MED = "https://www.ehealth.fgov.be/standards/fhir/medication/StructureDefinition/"
RECORDED_DATE = f"{_MED}BeExtRecordedDate"
REGISTRATION_STATUS = f"{_MED}BeExtMedicationLineRegistrationStatus"
RECORDER = f"{_MED}BeExtRecorder"
SUSPENSION = f"{_MED}extension-MedicationSuspension"
SUSPENSION_REASON = "http://ehealth.fgov.be/standards/fhir/MedicationSuspensionReason"


@dataclass(frozen=True)
class Pair:
    """One reference line and the hub line paired with it (None: the hub has no such line)."""

    file: str
    index: int
    ref: Json
    hub: Json | None
    hub_bundle: Json
    ref_bundle: Json


def _ext(res: Json, url: str) -> Json | None:
    return next((e for e in res.get("extension", []) if e.get("url") == url), None)


def _run_time(value: str, bundle: Json) -> bool:
    """A reference value stamped at generation time (within a minute of Bundle.timestamp)."""
    try:
        stamp = datetime.fromisoformat(bundle["timestamp"].replace("Z", "+00:00"))
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return False
    return abs(stamp - moment) < timedelta(minutes=1)


def _same_instant(a: str, b: str) -> bool:
    """Same wall-clock date and time: the reference labels KMEHR's Belgian local time as UTC
    (``Z``), the hub gives it Brussels' offset (see docs/medication-reference.md)."""
    return a[:19] == b[:19]


def _recorded_date(p: Pair, hub: Json) -> bool:
    want, got = _ext(p.ref, RECORDED_DATE), _ext(hub, RECORDED_DATE)
    if want is None or got is None:
        return want is got
    value = want["valueDateTime"]
    return _run_time(value, p.ref_bundle) or _same_instant(value, got["valueDateTime"])


def _registration_status(p: Pair, hub: Json) -> bool:
    want, got = _ext(p.ref, REGISTRATION_STATUS), _ext(hub, REGISTRATION_STATUS)
    return (want or {}).get("valueCode") == (got or {}).get("valueCode")


def _recorder(p: Pair, hub: Json) -> bool:
    """Same practitioner: the reference names its NIHII in a logical reference."""
    want, got = _ext(p.ref, RECORDER), _ext(hub, RECORDER)
    if want is None or got is None:
        return want is got
    nihii = want["valueReference"]["reference"].rsplit("/", 1)[-1]
    target = _resolve(p.hub_bundle, got["valueReference"]["reference"])
    return target is not None and nihii in _identifier_values(p.hub_bundle, target)


def _resolve(bundle: Json, reference: str) -> Json | None:
    for entry in bundle["entry"]:
        if entry["fullUrl"] == reference:
            return entry["resource"]  # type: ignore[no-any-return]
    return None


def _identifier_values(bundle: Json, res: Json) -> set[str]:
    values = {i.get("value") for i in res.get("identifier", [])}
    practitioner = res.get("practitioner", {}).get("reference")
    if practitioner and (person := _resolve(bundle, practitioner)):
        values |= {i.get("value") for i in person.get("identifier", [])}
    return {v for v in values if v}


def suspensions(res: Json) -> list[tuple[str | None, ...]]:
    """(start, end, reason) of every suspension a line carries in ``statusReason``."""
    out = []
    for reason in res.get("statusReason", []):
        siblings = reason.get("extension", [])
        for ext in siblings:
            if ext.get("url") != SUSPENSION:
                continue
            period = ext.get("valuePeriod", {})
            # The reference nests the reason in the period extension; the hub puts it beside.
            reasons = [
                e.get("valueString")
                for e in [*ext.get("extension", []), *siblings]
                if e["url"] == SUSPENSION_REASON
            ]
            out.append(
                (
                    period.get("start"),
                    period.get("end"),
                    reasons[0] if reasons else None,
                    reason.get("text"),
                )
            )
    return sorted(out, key=str)


def _as_needed(res: Json) -> bool:
    return any(d.get("asNeededBoolean") for d in res.get("dosage", []))


def _version(res: Json) -> str | None:
    return (_ext(res, "http://hl7.org/fhir/StructureDefinition/artifact-version") or {}).get(
        "valueString"
    )


def _routes(res: Json) -> list[Any]:
    return [
        sorted((c.get("system"), c.get("code")) for c in d["route"].get("coding", []))
        for d in res.get("dosage", [])
        if "route" in d
    ]


def _doses(res: Json) -> list[Any]:
    out = []
    for d in res.get("dosage", []):
        for dr in d.get("doseAndRate", []):
            q = dr.get("doseQuantity")
            if q is not None:
                out.append((q.get("value"), q.get("system"), q.get("code")))
    return out


def _start(res: Json) -> str | None:
    return res.get("effectivePeriod", {}).get("start") or res.get("effectiveDateTime")


def _end(res: Json) -> str | None:
    return res.get("effectivePeriod", {}).get("end")


def _same(get: Callable[[Json], Any]) -> Callable[[Pair, Json], bool]:
    return lambda p, hub: bool(get(p.ref) == get(hub))


FIELDS: dict[str, Callable[[Pair, Json], bool]] = {
    "status": _same(lambda r: r.get("status")),
    "artifact-version": _same(_version),
    "BeExtRecordedDate": _recorded_date,
    "BeExtMedicationLineRegistrationStatus": _registration_status,
    "BeExtRecorder": _recorder,
    "suspensions": _same(suspensions),
    "asNeeded": _same(_as_needed),
    "route": _same(_routes),
    "dose": _same(_doses),
    "effective.start": _same(_start),
    "effective.end": _same(_end),
}
"""Field -> does the hub line agree with the reference line on it."""


def _product_key(res: Json) -> tuple[frozenset[str], str | None]:
    concept = res.get("medicationCodeableConcept", {})
    codes = frozenset(
        c["code"] for c in concept.get("coding", []) if "medication-type" not in c.get("system", "")
    )
    # The reference names a substituted product by its delivered name, the hub by the intended one.
    return codes, None if codes else concept.get("text")


def statements(bundle: Json) -> list[Json]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationStatement"
    ]


def pairs(shared: Path) -> Iterator[Pair]:
    """Every reference line with its hub counterpart, file by file."""
    output = shared / "kmehr-corpus" / "smals-jy-KMEHR-tests" / "output"
    for reference in sorted((output / "fhir-ms").glob("*.json")):
        data = (output / "ms" / f"{reference.stem}.xml").read_bytes()
        hub_bundle = translate_kmehr(data, now=NOW, new_id=uuid5_ids(reference.stem))
        ref_bundle = json.loads(reference.read_text(encoding="utf-8"))
        by_product: dict[Any, list[Json]] = defaultdict(list)
        for hub in statements(hub_bundle):
            by_product[_product_key(hub)].append(hub)
        for index, ref in enumerate(statements(ref_bundle)):
            candidates = by_product[_product_key(ref)]
            hub_line = candidates.pop(0) if candidates else None
            yield Pair(reference.stem, index, ref, hub_line, hub_bundle, ref_bundle)


@dataclass
class Agreement:
    """Per-field agreement over the reference lines, and the line counts per file."""

    lines: int = 0
    agree: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    disagreements: list[tuple[str, int, str]] = field(default_factory=list)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    """File -> (reference MedicationStatements, hub MedicationStatements)."""

    def share(self, name: str) -> float:
        return self.agree[name] / self.lines if self.lines else 0.0


def measure(shared: Path) -> Agreement:
    out = Agreement()
    for p in pairs(shared):
        out.lines += 1
        ref_count = len(statements(p.ref_bundle))
        out.counts[p.file] = (ref_count, len(statements(p.hub_bundle)))
        for name, agrees in FIELDS.items():
            if p.hub is not None and agrees(p, p.hub):
                out.agree[name] += 1
            else:
                out.disagreements.append((p.file, p.index, name))
    return out


def table(a: Agreement) -> str:
    """The agreement as a Markdown table."""
    ref_total = sum(r for r, _ in a.counts.values())
    hub_total = sum(h for _, h in a.counts.values())
    same_files = sum(1 for r, h in a.counts.values() if r == h)
    rows = ["| field | lines agreeing | share |", "|---|---|---|"]
    rows += [f"| {n} | {a.agree[n]}/{a.lines} | {a.share(n):.1%} |" for n in FIELDS]
    rows.append(
        f"| MedicationStatements per file | {same_files}/{len(a.counts)} files equal "
        f"({hub_total} hub vs {ref_total} reference) | |"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    shared_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared")
    result = measure(shared_dir)
    print(table(result))
    if "-v" in sys.argv:
        for where in result.disagreements:
            print(*where)
