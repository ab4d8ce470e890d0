"""Belgian identifiers as value types: SSIN (INSZ/NISS), NIHII (INAMI/RIZIV) and CBE (KBO/BCE).

Rules (verified, see ../shared/DESIGN.md):

* SSIN: 11 digits ``YYMMDDSSSCC``. ``CC = 97 - (YYMMDDSSS mod 97)``; for people born from
  2000 on the check is computed over ``2`` followed by the 9 digits. Bis numbers (month + 20
  or + 40) follow the same check rule.
* NIHII of a person: 11 digits: a 6-digit base, 2 check digits ``97 - (base mod 97)``, and a
  3-digit qualification code (e.g. ``11530231003``). NIHII of an organisation: 8 digits
  (6-digit base and the same check) optionally followed by a 3-digit qualification.
* CBE: 10 digits, the last two ``97 - (first 8 mod 97)``; printed ``0820.563.481``.

``parse`` accepts the usual separators (dots, dashes, ASCII white space, slashes) and ASCII digits
only (not Arabic-Indic or full-width digits, nor invisible characters), and raises
:class:`~ehealth_hub.core.errors.IdentifierError` naming the rule that failed
(:class:`~ehealth_hub.core.errors.IdentifierCheckError` when only the check digits fail).
``masked`` gives the form that may appear in logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from ehealth_hub.core.errors import IdentifierCheckError, IdentifierError

_BE: Final = "https://www.ehealth.fgov.be/standards/fhir"
# The FHIR naming systems of the three identifiers (``fhir.profiles`` re-exports them: the
# identifiers are the lower layer, so the URIs live with them).
SSIN_SYSTEM: Final = f"{_BE}/core/NamingSystem/ssin"
NIHDI_SYSTEM: Final = f"{_BE}/core/NamingSystem/nihdi"
CBE_SYSTEM: Final = f"{_BE}/core/NamingSystem/cbe"

_SEPARATORS = re.compile(r"[\s./\-]", re.ASCII)


def _digits(raw: str, kind: str, lengths: tuple[int, ...]) -> str:
    if not isinstance(raw, str):
        raise IdentifierError(f"{kind} must be a string of digits", field=kind, rule="type")
    value = _SEPARATORS.sub("", raw)
    if not value:
        raise IdentifierError(f"{kind} is required", field=kind, rule="required")
    if not value.isdigit() or not value.isascii():
        raise IdentifierError(
            f"{kind} may contain only digits (and separators . - / space)",
            field=kind,
            rule="digits-only",
        )
    if len(value) not in lengths:
        wanted = " or ".join(str(n) for n in lengths)
        raise IdentifierError(
            f"{kind} must have {wanted} digits, got {len(value)}", field=kind, rule="length"
        )
    return value


def mod97_check(base: int) -> int:
    """The Belgian check number: ``97 - (base mod 97)`` (never 0; 97 stands for 0 remainder)."""
    return 97 - (base % 97)


@dataclass(frozen=True, slots=True)
class Ssin:
    """A Belgian social-security identification number (INSZ/NISS), stored as 11 digits."""

    value: str
    system: ClassVar[str] = SSIN_SYSTEM

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Validate ``raw`` (separators allowed) or raise IdentifierError naming the rule."""
        value = _digits(raw, "SSIN", (11,))
        base, check = int(value[:9]), int(value[9:])
        if check not in (mod97_check(base), mod97_check(2_000_000_000 + base)):
            raise IdentifierCheckError(
                "SSIN check digits must equal 97 - (first 9 digits mod 97), computed over "
                "'2' + the 9 digits for people born from 2000 on",
                field="SSIN",
                rule="ssin-mod97",
            )
        return cls(value)

    @property
    def born_after_2000(self) -> bool:
        """True when the check digits follow the 2000+ rule."""
        base = int(self.value[:9])
        return int(self.value[9:]) == mod97_check(2_000_000_000 + base)

    def formatted(self) -> str:
        """The printed form ``YY.MM.DD-SSS.CC``."""
        v = self.value
        return f"{v[0:2]}.{v[2:4]}.{v[4:6]}-{v[6:9]}.{v[9:11]}"

    def masked(self) -> str:
        """The form allowed in logs: only the last 2 digits of the serial and the check shown."""
        return mask_ssin(self.value)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Ssin({self.masked()!r})"


@dataclass(frozen=True, slots=True)
class Nihii:
    """A NIHII (RIZIV/INAMI) number: 11 digits for a person, 8 or 11 for an organisation."""

    value: str
    system: ClassVar[str] = NIHDI_SYSTEM

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Validate ``raw``: 6-digit base, check ``97 - (base mod 97)``, 3-digit qualification."""
        value = _digits(raw, "NIHII", (8, 11))
        base, check = int(value[:6]), int(value[6:8])
        if check != mod97_check(base):
            raise IdentifierCheckError(
                "NIHII check digits (7th and 8th) must equal 97 - (6-digit base mod 97)",
                field="NIHII",
                rule="nihii-mod97",
            )
        return cls(value)

    @classmethod
    def person(cls, raw: str) -> Self:
        """Validate a care provider's NIHII: 11 digits, the last 3 the qualification code."""
        nihii = cls.parse(raw)
        if len(nihii.value) != 11:
            raise IdentifierError(
                "a care provider's NIHII has 11 digits (base, check, 3-digit qualification)",
                field="NIHII",
                rule="nihii-person-length",
            )
        return nihii

    @property
    def qualification(self) -> str | None:
        """The 3-digit qualification code, when present."""
        return self.value[8:] if len(self.value) == 11 else None

    def formatted(self) -> str:
        """The printed form ``1/15302/31/003`` for persons, ``1-15302-31`` for 8 digits."""
        v = self.value
        head = f"{v[0]}/{v[1:6]}/{v[6:8]}"
        return f"{head}/{v[8:]}" if len(v) == 11 else head

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Cbe:
    """A Crossroads Bank for Enterprises number (KBO/BCE), stored as 10 digits."""

    value: str
    system: ClassVar[str] = CBE_SYSTEM

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Validate ``raw`` (``0820.563.481`` or ``BE0820563481`` accepted)."""
        text = raw.strip()
        if text[:2].upper() == "BE":
            text = text[2:]
        value = _digits(text, "CBE", (9, 10))
        value = value.zfill(10)
        if int(value[8:]) != mod97_check(int(value[:8])):
            raise IdentifierCheckError(
                "CBE check digits (last two) must equal 97 - (first 8 digits mod 97)",
                field="CBE",
                rule="cbe-mod97",
            )
        return cls(value)

    def formatted(self) -> str:
        """The printed form ``0820.563.481``."""
        v = self.value
        return f"{v[0:4]}.{v[4:7]}.{v[7:10]}"

    def __str__(self) -> str:
        return self.value


_SSIN_IN_TEXT = re.compile(
    r"(?<!\d)(\d{2})[.\s]?(\d{2})[.\s]?(\d{2})[-.\s]?(\d{3})[.\s]?(\d{2})(?!\d)"
)


def mask_ssin(value: str) -> str:
    """Mask an SSIN for logs: ``85031212345`` -> ``*******2345`` (never reversible)."""
    digits = _SEPARATORS.sub("", value)
    if len(digits) < 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_ssins_in_text(text: str) -> str:
    """Replace every SSIN-shaped number (11 digits, printed or plain) in free text by its mask."""
    return _SSIN_IN_TEXT.sub(lambda m: mask_ssin("".join(m.groups())), text)


def mask_name(name: str) -> str:
    """Mask a person's name for logs: ``Jan Janssens`` -> ``J** J*******``."""
    return " ".join(part[:1] + "*" * (len(part) - 1) for part in name.split())
