"""The CIN/NIC flat-file record layer of eFact: fixed-length records, zones and checksums.

Every record is :data:`RECORD_LENGTH` (350) characters: the record type right-aligned on 6
digits, its zones as :data:`LAYOUTS` gives them (numeric zones zero-padded on the left,
alphanumeric zones blank-padded on the right), blanks up to 348, then a 2-digit checksum
(``int(all digits of the record) mod 97``, 97 when 0). Zone order follows the verified record
structure; widths and positions are the hub's own (see :mod:`ehealth_hub.mappings.mycarenet_efact`).
Pure; refusals are MappingError naming the record and zone.
"""

from __future__ import annotations

from typing import Final

from ehealth_hub.core.errors import MappingError

RECORD_LENGTH: Final = 350

# record type -> ((zone, width, numeric), ...); the type and the 2-digit checksum are implicit
LAYOUTS: Final[dict[str, tuple[tuple[str, int, bool], ...]]] = {
    "200": (
        ("name", 6, True),
        ("version", 2, True),
        ("file_version", 2, True),
        ("reference", 14, True),
        ("test", 1, True),
    ),
    "300": (
        ("month", 6, True),
        ("sending", 3, True),
        ("created", 8, True),
        ("file_ref", 13, False),
        ("family", 45, False),
        ("given", 24, False),
        ("phone", 10, False),
        ("type", 2, True),
    ),
    "10": (
        ("record", 6, True),
        ("nihii", 11, True),
        ("year", 4, True),
        ("month", 2, True),
        ("created", 8, True),
        ("cbe", 10, True),
        ("batch_ref", 13, False),
        ("bic", 11, False),
        ("iban", 34, False),
    ),
    "20": (
        ("record", 6, True),
        ("mutuality", 3, True),
        ("ssin", 13, True),
        ("gender", 1, True),
        ("destination", 3, True),
        ("invoice", 12, True),
        ("ct", 6, True),
        ("reference", 25, False),
    ),
    "50": (
        ("record", 6, True),
        ("norm", 1, True),
        ("code", 7, True),
        ("date", 8, True),
        ("mutuality", 3, True),
        ("ssin", 13, True),
        ("sign", 1, False),
        ("amount", 11, True),
        ("supplement", 11, True),
        ("line_ref", 36, False),
    ),
    "80": (
        ("record", 6, True),
        ("invoice", 12, True),
        ("sign", 1, False),
        ("amount", 11, True),
        ("records", 6, True),
        ("control", 2, True),
    ),
    "90": (
        ("record", 6, True),
        ("sign", 1, False),
        ("amount", 11, True),
        ("records", 6, True),
        ("control", 2, True),
    ),
    "95": (
        ("mutuality", 3, True),
        ("reference", 14, True),
        ("sign", 1, False),
        ("amount", 11, True),
        ("records", 6, True),
        ("control", 2, True),
    ),
    "96": (
        ("federation", 3, True),
        ("sign", 1, False),
        ("amount", 11, True),
        ("records", 6, True),
        ("control", 2, True),
    ),
    "931000": (("reference", 14, True), ("status", 1, False), ("code", 6, False)),
    "920099": (
        ("record", 6, True),
        ("invoice", 12, True),
        ("status", 1, False),
        ("zone", 12, False),
        ("code", 6, False),
        ("line_ref", 36, False),
    ),
}
_TYPE_WIDTH: Final = 6


def _checksum(body: str) -> str:
    digits = "".join(ch for ch in body if ch.isdigit()) or "0"
    return f"{int(digits) % 97 or 97:02d}"


def render(kind: str, zones: dict[str, object]) -> str:
    """One record: type, zones by :data:`LAYOUTS`, blank padding to 348, 2-digit checksum."""
    parts = [kind.rjust(_TYPE_WIDTH, "0")]
    for name, width, numeric in LAYOUTS[kind]:
        value = "" if zones.get(name) is None else str(zones[name])
        if len(value) > width:
            raise MappingError(
                f"eFact record {kind} zone {name} longer than {width}",
                field=f"{kind}.{name}",
                rule="efact.width",
            )
        if numeric and value and not value.isdigit():
            raise MappingError(
                f"eFact record {kind} zone {name} must be digits",
                field=f"{kind}.{name}",
                rule="efact.numeric",
            )
        parts.append(value.rjust(width, "0") if numeric else value.ljust(width))
    body = "".join(parts).ljust(RECORD_LENGTH - 2)
    return body + _checksum(body)


def parse_record(record: str) -> tuple[str, dict[str, str]]:
    """(type, zones) of one record; MappingError when its length or checksum is wrong."""
    if len(record) != RECORD_LENGTH:
        raise MappingError(
            f"eFact record of {len(record)} characters", field="record", rule="efact.length"
        )
    if _checksum(record[:-2]) != record[-2:]:
        raise MappingError(
            "eFact record checksum mismatch", field="record.checksum", rule="efact.checksum"
        )
    kind = record[:_TYPE_WIDTH].lstrip("0") or "0"
    if kind not in LAYOUTS:
        raise MappingError(
            f"unknown eFact record type {kind}", field="record.type", rule="efact.type"
        )
    zones, pos = {}, _TYPE_WIDTH
    for name, width, numeric in LAYOUTS[kind]:
        raw = record[pos : pos + width]
        zones[name] = raw if numeric else raw.rstrip()
        pos += width
    return kind, zones


def records(text: str) -> list[tuple[str, dict[str, str]]]:
    """Every record of a flat file (fixed length, no separators)."""
    if len(text) % RECORD_LENGTH:
        raise MappingError(
            "eFact file length is not a multiple of 350", field="file", rule="efact.length"
        )
    return [parse_record(text[i : i + RECORD_LENGTH]) for i in range(0, len(text), RECORD_LENGTH)]
