"""Medication-scheme transactions (Vitalink / RSW / BHN medication scheme on KMEHR 1.38; the
``CD-ITEM-MS`` table, 2023 edition) folded into one MedicationStatement each.

A ``medicationschemeelement`` transaction is one medication line: its ``medication`` item plus
``healthcareelement`` items whose content is a CD-ITEM-MS code describing that line. They are not
problems of the patient, so they are folded into the statement instead of becoming Conditions:

- ``medicationuse`` (what the medicine is for, in the patient's words) -> ``reasonCode.text``;
- ``begincondition``, ``endcondition``, ``adaptationflag``, ``origin`` and any other CD-ITEM-MS
  -> a ``note`` prefixed with the code (language kept).

A ``treatmentsuspension`` transaction is a suspension of a line (resolved from its medication
item's ``lnk`` ``//transaction[id[@S='ID-KMEHR']='N']``): its begin/end are the suspension period,
lifecycle ``stopped`` makes it definitive, and its ``transactionreason`` is the reason. It becomes
a ``statusReason`` of the suspended line (:class:`~ehealth_hub.mappings.kmehr_medline.Suspension`),
as HL7-BE models it; the medication-use and other CD-ITEM-MS texts it repeats are added to the
line where they differ. Only when the link resolves to no line of the message does it stay a
MedicationStatement of its own (lifecycle ``suspended`` -> ``on-hold``, ``stopped`` ->
``stopped``) whose ``partOf`` is a logical reference by identifier, with a warning.

The line's version (``artifact-version``) is the last segment of the transaction's Vitalink URI
(``id S="LOCAL" SL="vitalinkuri"``, ``/subject/<ssin>/medication-scheme/<line>/<version>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ehealth_hub.fhir.builders import Json, concept, language_text
from ehealth_hub.mappings import kmehr_items as items
from ehealth_hub.mappings.kmehr_medication import medication_statement
from ehealth_hub.mappings.kmehr_medline import Suspension
from ehealth_hub.mappings.kmehr_read import Element, Reader, Text

SCHEME_TRANSACTIONS: Final = frozenset({"medicationschemeelement", "treatmentsuspension"})
_LINK_TARGET: Final = re.compile(r"""id\[@S=['"]ID-KMEHR['"]\]\s*=\s*['"]([^'"]+)['"]""")

Indexed = tuple[int, Element]


@dataclass(frozen=True, slots=True)
class Folded:
    """The statement of one scheme transaction, the items left to map, and the suspended line."""

    statement: Json
    remaining: list[Indexed]
    suspends: str | None
    """The ``ID-KMEHR`` of the transaction this one suspends (None: a line, not a suspension)."""
    suspension: Suspension | None
    element: Element
    """The medication item (where a warning about this line points)."""


def _kind(r: Reader, item: Element) -> str | None:
    cd = r.cd(item, "CD-ITEM")
    return cd.value if cd else None


def _scheme_codes(r: Reader, item: Element) -> tuple[str | None, list[Text]]:
    code = None
    texts: list[Text] = []
    for content in r.children(item, "content"):
        ms = r.cd(content, "CD-ITEM-MS")
        code = ms.value if ms else code
        texts.extend(r.texts(content))
    return code, texts


def fold(
    r: Reader,
    ctx: items.ItemContext,
    indexed: list[Indexed],
    kind: str,
    rid: str,
    version: str = "1",
) -> Folded | None:
    """Map one scheme transaction's medication line; None when it has no medication item."""
    found = [(i, e) for i, e in indexed if _kind(r, e) == "medication"]
    if not found:
        return None
    med_index, med = found[0]
    parsed = items.parse_item(r, med, ctx.seed)
    statement = medication_statement(ctx, parsed, rid, version=version, scheme=True)
    remaining: list[Indexed] = []
    for index, element in indexed:
        if index != med_index and not _fold_extra(r, statement, element, kind):
            remaining.append((index, element))
    if kind != "treatmentsuspension":
        return Folded(statement, remaining, None, None, med)
    reasons = [c.get("text") for c in statement.get("statusReason", [])]
    definitive = parsed.lifecycle == "stopped"
    suspension = Suspension(parsed.begin, parsed.end, next(filter(None, reasons), None), definitive)
    return Folded(statement, remaining, _link_target(r, med), suspension, med)


def merge_suspension(line: Json, folded: Folded) -> None:
    """Fold a suspension into the line it suspends (with the texts it adds to the line)."""
    assert folded.suspension is not None  # only suspension transactions are merged
    folded.suspension.apply(line)
    for key in ("reasonCode", "note"):
        extra = [x for x in folded.statement.get(key, []) if x not in line.get(key, [])]
        if extra:
            line.setdefault(key, []).extend(extra)


def line_version(r: Reader, tx: Element) -> str:
    """The line version a Vitalink URI gives the transaction (see the module docstring), or "1"."""
    for cd in r.cds(tx, "id"):
        if cd.s == "LOCAL" and cd.sl == "vitalinkuri":
            last = cd.value.rstrip("/").rsplit("/", 1)[-1]
            if last.isdigit():
                return last
    return "1"


def _fold_extra(r: Reader, statement: Json, item: Element, kind: str) -> bool:
    item_kind = _kind(r, item)
    if item_kind == "transactionreason" and kind == "treatmentsuspension":
        texts = [t for c in r.children(item, "content") for t in r.texts(c)]
        if texts:
            statement["statusReason"] = [concept([], t.value) for t in texts]
            return True
        return False
    if item_kind != "healthcareelement":
        return False
    code, texts = _scheme_codes(r, item)
    if code is None:
        return False
    if code == "medicationuse":
        statement.setdefault("reasonCode", []).extend(concept([], t.value) for t in texts)
    else:
        notes = [language_text(f"{code}: {t.value}", t.lang) for t in texts] or [{"text": code}]
        statement.setdefault("note", []).extend(notes)
    return True


def _link_target(r: Reader, med: Element) -> str | None:
    for lnk in r.children(med, "lnk"):
        match = _LINK_TARGET.search(lnk.get("URL", ""))
        if match:
            return match.group(1)
    return None
