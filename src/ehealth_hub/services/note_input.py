"""Reading what a consultation note names (HL7-BE be-documentreference, FHIR R4 4.0.1): the
patient's SSIN, the author's NIHII and the recipient GP's NIHII when the note names one
(``Patient.generalPractitioner``; None when it does not: the GMD holder is then the recipient, see
services/notes.py), from the DocumentReference and its ``contained`` resources or a Bundle around
it. Pure; refusals name the FHIR path and rule.
"""

from __future__ import annotations

from typing import Any

from ehealth_hub.core.errors import IdentifierError, RuleViolation
from ehealth_hub.core.identifiers import Nihii, Ssin
from ehealth_hub.fhir.builders import Json
from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM


def _bad(field: str, rule: str, detail: str) -> RuleViolation:
    return RuleViolation(detail, field=field, rule=rule, system="api", operation="note")


def _resources(note: Json) -> tuple[Json, list[Json]]:
    """The DocumentReference and every resource it can refer to."""
    if note.get("resourceType") == "Bundle":
        found = [e.get("resource", {}) for e in note.get("entry", []) if isinstance(e, dict)]
        docs = [r for r in found if r.get("resourceType") == "DocumentReference"]
        if len(docs) != 1:
            raise _bad(
                "Bundle.entry", "note.single-document", "exactly one DocumentReference expected"
            )
        return docs[0], found + list(docs[0].get("contained", []))
    if note.get("resourceType") != "DocumentReference":
        raise _bad(
            "resourceType", "note.resource-type", "a DocumentReference (or a Bundle) is expected"
        )
    return note, list(note.get("contained", []))


def _resolve(reference: Any, pool: list[Json], path: str) -> Json:
    """A referenced resource (contained ``#id``, ``urn:uuid:``, ``Type/id``) or a logical one."""
    if not isinstance(reference, dict):
        raise _bad(path, "note.reference", "a Reference is required")
    if "identifier" in reference and "reference" not in reference:
        return {"identifier": [reference["identifier"]]}
    target = str(reference.get("reference", ""))
    for res in pool:
        rid = str(res.get("id", ""))
        if target in (f"#{rid}", f"urn:uuid:{rid}", f"{res.get('resourceType')}/{rid}"):
            return res
    raise _bad(path, "note.reference", f"reference {target!r} does not resolve inside the note")


def _identifier(res: Json, system: str, path: str) -> str:
    for ident in res.get("identifier", []):
        if isinstance(ident, dict) and ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    raise _bad(
        f"{path}.identifier", "note.identifier", f"an identifier with system {system} is required"
    )


def _checked(kind: type[Ssin] | type[Nihii], value: str, path: str) -> str:
    try:
        return kind.parse(value).value
    except IdentifierError as exc:
        raise _bad(path, exc.rule, exc.detail) from exc


def note_parties(note: Json) -> tuple[str, list[str], str | None]:
    """(patient SSIN, author NIHIIs, recipient GP NIHII or None) named by ``note``."""
    doc, pool = _resources(note)
    patient = _resolve(doc.get("subject"), pool, "DocumentReference.subject")
    ssin = _checked(Ssin, _identifier(patient, SSIN_SYSTEM, "Patient"), "Patient.identifier")
    authors = [
        _checked(
            Nihii,
            _identifier(
                _resolve(a, pool, f"DocumentReference.author[{i}]"), NIHDI_SYSTEM, "author"
            ),
            f"DocumentReference.author[{i}].identifier",
        )
        for i, a in enumerate(doc.get("author", []))
    ]
    if not authors:
        raise _bad(
            "DocumentReference.author", "note.author", "the note needs an author practitioner"
        )
    gps = patient.get("generalPractitioner") or []
    if not gps:
        return ssin, authors, None
    gp = _resolve(gps[0], pool, "Patient.generalPractitioner[0]")
    gp_nihii = _checked(
        Nihii,
        _identifier(gp, NIHDI_SYSTEM, "Patient.generalPractitioner[0]"),
        "Patient.generalPractitioner[0].identifier",
    )
    return ssin, authors, gp_nihii


def _localised(value: Any, local: dict[str, str]) -> Any:
    """``value`` with every ``reference`` found in ``local`` replaced by its local form."""
    if isinstance(value, list):
        return [_localised(v, local) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _localised(v, local) for k, v in value.items()}
    if isinstance(out.get("reference"), str) and out["reference"] in local:
        out["reference"] = local[out["reference"]]
    return out


def as_document(note: Json) -> Json:
    """The DocumentReference of ``note``, standing alone: a Bundle's other entries become its
    contained resources and the references to them local (``#id``), so that it can be served
    as the resource the client created (FHIR references.html#contained)."""
    doc, _ = _resources(note)
    if note.get("resourceType") != "Bundle":
        return dict(doc)
    local: dict[str, str] = {}
    contained = list(doc.get("contained", []))
    for entry in note.get("entry", []):
        res = entry.get("resource", {}) if isinstance(entry, dict) else {}
        if res is doc or not res.get("id"):
            continue
        local[f"{res.get('resourceType')}/{res['id']}"] = f"#{res['id']}"
        if entry.get("fullUrl"):
            local[str(entry["fullUrl"])] = f"#{res['id']}"
        contained.append(res)
    resolved: Json = _localised({**doc, "contained": contained}, local)
    return resolved
