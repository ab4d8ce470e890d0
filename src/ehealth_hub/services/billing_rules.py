"""The tariff and rules table of teleconsultation codes and psychologist sessions: data, loaded
and validated at start-up.

The table is ``ehealth_hub/data/billing_rules.csv`` (or the file ``mycarenet.billing_rules_file``
names). One row per code and period: ``code``, ``label``, ``valid_from`` / ``valid_to`` (ISO
dates, both inclusive; an empty ``valid_to`` = until a later row says otherwise), ``provider``
(the kind of provider the code is for: ``gp``, ``specialist``, ``gp-acquired-rights``,
``clinical-psychologist``), ``patient_share_normal`` / ``patient_share_bim`` (EUR, the fixed
patient share without and with increased reimbursement; both empty when not published for that
row), ``route`` (``efact``: third-party payment is mandatory so eAttest cannot be used;
``federation``: the federation's configured route; ``mhc``: a first-line psychological care
session, recorded on MyCareNet's Mental Health Care platform), ``conditions`` (space-separated:
``treatment-relationship``, ``third-party-payment``), ``source`` (the https URL the row was taken
from) and, optionally, ``checked`` (YYYY-MM-DD: when that source was last read). A new period is
a new row; a code stops being reimbursable when no row covers the date.

Codes: a 6-digit nomenclature code, except on ``mhc`` rows: the MHC platform's pseudo-codes for
the 2024 convention are not public (not found in the sources read, not in ../shared), so those
rows are keyed by a hub session key (``psy-...``, :data:`~ehealth_hub.mappings.mhc.SESSION_SYSTEM`),
never by an invented pseudo-code; the MHC adapter is acceptance-only until the real codes and
message are verified.

Validation refuses (ConfigurationError naming the row and the rule): a missing column, a bad date
or amount, a period ending before it starts, two periods of one code that overlap, an unknown
route or condition, one share without the other, a row without an https source, a code that is
neither a nomenclature code nor (on an ``mhc`` row) a hub session key.

Public API::

    rules = load_rules()                      # the packaged table (or load_rules(path))
    row = rules.row("101673", date(2025, 3, 1))   # TariffRow, or None when not reimbursable
    row.patient_share(bim=True)               # Decimal | None
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from ehealth_hub.core.errors import ConfigurationError
from ehealth_hub.mappings.mhc import SESSION_KEY

COLUMNS: Final = (
    "code",
    "label",
    "valid_from",
    "valid_to",
    "provider",
    "patient_share_normal",
    "patient_share_bim",
    "route",
    "conditions",
    "source",
)
ROUTES: Final = frozenset({"efact", "federation", "mhc"})
CONDITIONS: Final = frozenset({"treatment-relationship", "third-party-payment"})
PROVIDERS: Final = frozenset({"gp", "specialist", "gp-acquired-rights", "clinical-psychologist"})
PACKAGED: Final = "billing_rules.csv"


@dataclass(frozen=True, slots=True)
class TariffRow:
    """One code over one period."""

    code: str
    label: str
    valid_from: date
    valid_to: date | None
    provider: str
    share_normal: Decimal | None
    share_bim: Decimal | None
    route: str
    conditions: frozenset[str]
    source: str
    checked: date | None = None
    """When ``source`` was last read (None: not recorded)."""

    def covers(self, on: date) -> bool:
        """Whether ``on`` lies inside the row's period (both ends inclusive)."""
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    def patient_share(self, *, bim: bool) -> Decimal | None:
        """The fixed patient share for a patient with (``bim``) or without increased
        reimbursement; None when the row publishes none."""
        return self.share_bim if bim else self.share_normal


@dataclass(frozen=True, slots=True)
class BillingRules:
    """The validated table; see the module docstring."""

    rows: tuple[TariffRow, ...]
    origin: str
    """Where the table was read from (the packaged file's name or a path)."""

    def row(self, code: str, on: date) -> TariffRow | None:
        """The row of ``code`` covering ``on``; None when the code is not reimbursable then."""
        return next((r for r in self.rows if r.code == code and r.covers(on)), None)

    def codes(self) -> frozenset[str]:
        """Every code the table knows, whatever the period."""
        return frozenset(r.code for r in self.rows)


def load_rules(path: Path | None = None) -> BillingRules:
    """Read and validate the table at ``path`` (default: the packaged one)."""
    if path is None:
        text = (importlib.resources.files("ehealth_hub.data") / PACKAGED).read_text("utf-8")
        origin = PACKAGED
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"billing rules file {path} cannot be read: {exc}", system="billing-rules"
            ) from exc
        origin = str(path)
    return BillingRules(parse_rules(text, origin=origin), origin)


def parse_rules(text: str, *, origin: str = "billing rules") -> tuple[TariffRow, ...]:
    """The rows of a CSV table, validated; ConfigurationError names the row and the rule."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise _bad(origin, 0, "billing.columns", f"missing columns {missing}")
    rows = tuple(_row(raw, origin, n) for n, raw in enumerate(reader, start=2))
    if not rows:
        raise _bad(origin, 0, "billing.empty", "the table has no row")
    _no_overlap(rows, origin)
    return rows


def _bad(origin: str, line: int, rule: str, detail: str) -> ConfigurationError:
    where = f"{origin} line {line}" if line else origin
    return ConfigurationError(f"{where}: {detail} ({rule})", system="billing-rules", code=rule)


def _row(raw: dict[str, str], origin: str, line: int) -> TariffRow:
    value = {k: (raw.get(k) or "").strip() for k in (*COLUMNS, "checked")}
    _check_code(value["code"], value["route"], origin, line)
    start = _date(value["valid_from"], origin, line)
    end = _date(value["valid_to"], origin, line) if value["valid_to"] else None
    if start is None or (end is not None and end < start):
        raise _bad(origin, line, "billing.period", "valid_from is required and <= valid_to")
    if value["route"] not in ROUTES:
        raise _bad(origin, line, "billing.route", f"route must be one of {sorted(ROUTES)}")
    if value["provider"] not in PROVIDERS:
        raise _bad(origin, line, "billing.provider", f"provider must be one of {sorted(PROVIDERS)}")
    conditions = frozenset(value["conditions"].split())
    if not conditions <= CONDITIONS:
        raise _bad(origin, line, "billing.conditions", f"unknown {sorted(conditions - CONDITIONS)}")
    shares = (
        _amount(value["patient_share_normal"], origin, line),
        _amount(value["patient_share_bim"], origin, line),
    )
    if (shares[0] is None) != (shares[1] is None):
        raise _bad(origin, line, "billing.share", "give both patient shares or neither")
    if not value["source"].startswith("https://"):
        raise _bad(origin, line, "billing.source", "every row needs its https source")
    return TariffRow(
        value["code"],
        value["label"],
        start,
        end,
        value["provider"],
        shares[0],
        shares[1],
        value["route"],
        conditions,
        value["source"],
        _date(value["checked"], origin, line),
    )


def _check_code(code: str, route: str, origin: str, line: int) -> None:
    if route == "mhc":
        if not SESSION_KEY.fullmatch(code):
            raise _bad(origin, line, "billing.code", "an mhc row's code is a session key psy-...")
    elif not code.isdigit() or len(code) != 6:
        raise _bad(origin, line, "billing.code", "code must be a 6-digit nomenclature code")


def _date(text: str, origin: str, line: int) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _bad(origin, line, "billing.date", f"{text!r} is not YYYY-MM-DD") from exc


def _amount(text: str, origin: str, line: int) -> Decimal | None:
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise _bad(origin, line, "billing.amount", f"{text!r} is not an amount") from exc
    if amount < 0 or not amount.is_finite():
        raise _bad(origin, line, "billing.amount", f"{text!r} must be >= 0")
    return amount


def _no_overlap(rows: Sequence[TariffRow], origin: str) -> None:
    for code in {r.code for r in rows}:
        periods = sorted((r for r in rows if r.code == code), key=lambda r: r.valid_from)
        for before, after in _pairs(periods):
            if before.valid_to is None or after.valid_from <= before.valid_to:
                raise _bad(
                    origin,
                    0,
                    "billing.overlap",
                    f"code {code}: the period from {before.valid_from} overlaps the one from "
                    f"{after.valid_from}",
                )


def _pairs(rows: Sequence[TariffRow]) -> Iterable[tuple[TariffRow, TariffRow]]:
    return itertools.pairwise(rows)


def is_bim(ct1: str) -> bool:
    """Increased reimbursement (BIM/VT): the CT1 code's last digit is odd (110 normal, 111 BIM;
    130 normal, 131 BIM), as MemberData's CT1/CT2 codes are built."""
    return len(ct1) == 3 and ct1.isdigit() and int(ct1[-1]) % 2 == 1
