"""FHIR consultation note (HL7-BE be-documentreference, FHIR R4) -> KMEHR 1.38 message for the
patient's GP (eHealthBox), valid against ``kmehr_elements-1_38.xsd``.

Input: a Bundle (any type) holding a DocumentReference with its Patient, author Practitioner (or
PractitionerRole) and optional Encounter, or a DocumentReference carrying them as ``contained``
resources. Output: UTF-8 KMEHR bytes.

Mapping decisions:

- transaction type ``contactreport`` when the note has an Encounter (``context.encounter``), else
  ``note``; its date/time = the encounter's ``period.start`` (else ``DocumentReference.date``),
  written in Brussels time;
- header sender = the hub application (CD-HCPARTY ``application``, LOCAL id) and the author;
  recipient = the GP (``recipient`` argument, else ``Patient.generalPractitioner``) by NIHII;
- transaction author = the author Practitioner (NIHII and SSIN checked with their check digits),
  typed by the CD-HCPARTY coding of its PractitionerRole.code or qualification (e.g.
  ``persclinicalpsychologist``), a physician when none is given;
- ``text/plain`` attachments -> ``text`` (language from the attachment, else the patient's, else
  ``en``); ``application/pdf`` -> ``lnk TYPE="multimedia" MEDIATYPE="application/pdf"`` with the
  base64 content; other types, attachments without inline data, or a note without content are
  refused with a MappingError naming the FHIR path and the rule.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any, Final

from ehealth_hub.core.errors import IdentifierError, MappingError
from ehealth_hub.core.identifiers import Nihii, Ssin
from ehealth_hub.fhir import profiles as prof
from ehealth_hub.fhir.builders import IdFactory, Json
from ehealth_hub.mappings import kmehr_write as w

HUB_APPLICATION: Final = w.Party(
    kind="application", name="ehealth-hub", local_id=("application", "ehealth-hub")
)
_SEX: Final = {"male": "male", "female": "female", "other": "undefined", "unknown": "unknown"}


def _bad(path: str, rule: str, detail: str) -> MappingError:
    return MappingError(detail, field=path, rule=rule, operation="note_to_kmehr")


class _Index:
    """Resolves references inside a Bundle or a resource's ``contained``."""

    def __init__(self, root: Json) -> None:
        self.by_ref: dict[str, Json] = {}
        if root.get("resourceType") == "Bundle":
            for entry in root.get("entry", []):
                res = entry.get("resource", {})
                self._add(res, entry.get("fullUrl"))
        else:
            self.by_ref["(input)"] = root  # a DocumentReference being created may have no id
            self._add(root, None)
        for res in list(self.by_ref.values()):
            for inner in res.get("contained", []):
                self.by_ref[f"#{inner.get('id')}"] = inner

    def _add(self, res: Json, full_url: str | None) -> None:
        if full_url:
            self.by_ref[full_url] = res
        if "id" in res:
            self.by_ref[f"{res.get('resourceType')}/{res['id']}"] = res

    def find(self, resource_type: str) -> list[Json]:
        seen = {id(r): r for r in self.by_ref.values() if r.get("resourceType") == resource_type}
        return list(seen.values())

    def get(self, reference: Json | None, path: str, *types: str) -> Json:
        target = self.by_ref.get((reference or {}).get("reference", ""))
        if target is None or target.get("resourceType") not in types:
            raise _bad(
                path, "note.reference", f"{path} must reference a {'/'.join(types)} in the input"
            )
        return target


def _identifier(res: Json, system: str) -> str | None:
    return next(
        (i.get("value") for i in res.get("identifier", []) if i.get("system") == system), None
    )


def _checked(kind: type[Ssin] | type[Nihii], value: str | None, path: str) -> str:
    if not value:
        raise _bad(path, "note.identifier", f"{path}: a {kind.__name__} identifier is required")
    try:
        return kind.parse(value).value
    except IdentifierError as exc:
        raise _bad(path, exc.rule, exc.detail) from exc


def _hcparty_kind(*concepts: Json) -> str:
    """The CD-HCPARTY code among the role's/qualification's codings; a physician by default."""
    for cc in concepts:
        for c in cc.get("coding", []):
            if c.get("system") == prof.CD_HCPARTY_SYSTEM and str(c.get("code", "")).startswith(
                "pers"
            ):
                return str(c["code"])
    return "persphysician"


def _practitioner(index: _Index, res: Json, path: str) -> w.Party:
    roles: list[Json] = []
    if res["resourceType"] == "PractitionerRole":
        roles = list(res.get("code", []))
        res = index.get(res.get("practitioner"), f"{path}.practitioner", "Practitioner")
    qualifications = [q.get("code", {}) for q in res.get("qualification", [])]
    name = (res.get("name") or [{}])[0]
    nihii = _checked(Nihii, _identifier(res, prof.NIHDI_SYSTEM), f"{path}.identifier")
    ssin = _identifier(res, prof.SSIN_SYSTEM)
    return w.Party(
        kind=_hcparty_kind(*roles, *qualifications),
        nihii=nihii,
        ssin=_checked(Ssin, ssin, f"{path}.identifier") if ssin else None,
        firstname=" ".join(name.get("given", [])) or None,
        familyname=name.get("family"),
    )


def _patient(res: Json) -> w.Person:
    ssin = _checked(Ssin, _identifier(res, prof.SSIN_SYSTEM), "Patient.identifier")
    name = (res.get("name") or [{}])[0]
    if not name.get("family") or not name.get("given"):
        raise _bad(
            "Patient.name", "note.patient-name", "KMEHR needs the patient's given and family name"
        )
    language = next(
        (
            c["language"]["coding"][0]["code"]
            for c in res.get("communication", [])
            if c.get("language", {}).get("coding")
        ),
        None,
    )
    birth = res.get("birthDate")
    return w.Person(
        ssin=ssin,
        firstnames=tuple(name["given"]),
        familyname=name["family"],
        sex=_SEX.get(res.get("gender", "unknown"), "unknown"),
        birthdate=date.fromisoformat(birth) if birth and len(birth) == 10 else None,
        language=language,
    )


def _moment(doc: Json, encounter: Json | None) -> datetime:
    raw = (encounter or {}).get("period", {}).get("start") or doc.get("date")
    path = "Encounter.period.start" if encounter else "DocumentReference.date"
    if not raw:
        raise _bad(
            path, "note.date", "the note needs a date (encounter start or DocumentReference.date)"
        )
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise _bad(path, "note.date", f"not a FHIR dateTime: {raw!r}") from exc
    if moment.tzinfo is None:
        raise _bad(path, "note.date", "a note's dateTime must carry a time zone")
    return moment


def _content(parent: w.Element, doc: Json, language: str) -> None:
    contents = doc.get("content") or []
    if not contents:
        raise _bad("DocumentReference.content", "note.content", "the note has no content")
    for i, content in enumerate(contents):
        att = content.get("attachment", {})
        path = f"DocumentReference.content[{i}].attachment"
        if not att.get("data"):
            raise _bad(
                f"{path}.data", "note.attachment-data", "only inline attachments can be sent"
            )
        try:
            raw = base64.b64decode(att["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _bad(f"{path}.data", "note.attachment-data", "data is not base64") from exc
        kind = (att.get("contentType") or "").split(";")[0].strip()
        if kind == "text/plain":
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _bad(f"{path}.data", "note.text-utf8", "text/plain must be UTF-8") from exc
            w.el(parent, "text", text, L=att.get("language") or language)
        elif kind == "application/pdf":
            if not raw.startswith(b"%PDF-"):
                raise _bad(f"{path}.data", "note.pdf", "the attachment is not a PDF")
            w.el(
                parent,
                "lnk",
                att["data"],
                TYPE="multimedia",
                MEDIATYPE="application/pdf",
                SIZE=str(len(raw)),
            )
        else:
            raise _bad(
                f"{path}.contentType", "note.content-type", f"unsupported content type {kind!r}"
            )


def note_to_kmehr(
    note: Json,
    *,
    now: datetime,
    new_id: IdFactory,
    recipient: w.Party | None = None,
    application: w.Party = HUB_APPLICATION,
) -> bytes:
    """Translate a FHIR consultation note into a KMEHR 1.38 message (UTF-8 bytes)."""
    index = _Index(note)
    doc = _document(index)
    patient_res = index.get(doc.get("subject"), "DocumentReference.subject", "Patient")
    patient = _patient(patient_res)
    authors = _authors(index, doc)
    gp = recipient or _gp(index, patient_res)
    encounters: list[Any] = doc.get("context", {}).get("encounter", [])
    encounter = (
        index.get(encounters[0], "DocumentReference.context.encounter[0]", "Encounter")
        if encounters
        else None
    )
    moment = _moment(doc, encounter)
    message_id = f"{authors[0].nihii}.{new_id('kmehr-message')}"
    root = w.message(message_id, now, [application, authors[0]], [gp])
    tx = w.transaction(
        w.folder(root, patient), "1", "contactreport" if encounter else "note", moment, authors
    )
    _content(tx, doc, patient.language or "en")
    return w.serialize(root)


def _document(index: _Index) -> Json:
    docs = index.find("DocumentReference")
    if len(docs) != 1:
        raise _bad(
            "DocumentReference", "note.single-document", "exactly one DocumentReference expected"
        )
    if docs[0].get("status") != "current":
        raise _bad("DocumentReference.status", "note.status", "only a current note can be sent")
    return docs[0]


def _authors(index: _Index, doc: Json) -> list[w.Party]:
    authors = []
    for i, reference in enumerate(doc.get("author", [])):
        path = f"DocumentReference.author[{i}]"
        res = index.get(reference, path, "Practitioner", "PractitionerRole")
        authors.append(_practitioner(index, res, path))
    if not authors:
        raise _bad(
            "DocumentReference.author", "note.author", "the note needs an author practitioner"
        )
    return authors


def _gp(index: _Index, patient: Json) -> w.Party:
    gps = patient.get("generalPractitioner") or []
    if not gps:
        raise _bad(
            "Patient.generalPractitioner",
            "note.recipient",
            "no recipient GP given or known for the patient",
        )
    res = index.get(gps[0], "Patient.generalPractitioner[0]", "Practitioner", "PractitionerRole")
    return _practitioner(index, res, "Patient.generalPractitioner[0]")
