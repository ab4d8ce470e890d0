"""eFact (third-party payment) batches as the CIN/NIC flat file, and the mutualities' answers.

Standard: the CIN/NIC "instructions pour la facturation électronique / eFact" record structure
(message 920000 version 2) posted through MyCareNet GenericAsync v1 (``mycarenet-genasync-v1``).
What could be verified (from an open implementation of the writer, freehealth-connector's
``BelgianInsuranceInvoicingFormatWriter``, not from the CIN specification itself):

* the order of records: segments 200 (message header: name 920000, version) and 300 (batch header:
  invoicing month YYYYMM, sending number, creation date, file reference, contact), record 10
  (file header: sender NIHII, invoicing year/month, CBE, batch reference, BIC/IBAN), per invoice a
  record 20 (patient: mutuality, SSIN padded to 13, gender 1/2, invoice number, CT1*1000+CT2) then
  one record 50 per service (norm, nomenclature code, date, mutuality, SSIN) and a record 80
  (invoice footer), record 90 (file footer), then per mutuality segment 400/record 95 and per
  batch segment 500/record 96 with the amount, the record count and the control number
  ``sum(nomenclature codes) mod 97`` (97 when 0); record 96 names the federation as ``x99``;
* the destination rules: Solidaris codes 304, 305, 309, 311, 315, 317, 319, 322, 323, 325 bill
  to 300, all 400-series codes to 400, other codes to themselves;
* records end with a mod-97 checksum of their content.

NOT verified (the hub's own choices, consistent and tested, to be replaced when the specification
is at hand): the exact zone widths and positions (:data:`LAYOUTS`, every record padded to 350
characters), amounts in euro cents on 11 digits, and the answer files: acknowledgement
``931000`` (batch received or refused) and result ``920099`` (one result record per record 50:
``A`` accepted or ``R`` rejected with the zone number and error code) / ``920098`` (whole batch
rejected).

The mutualities' side (checking a received batch, the answer files 931000 and 920099) is
:mod:`.mycarenet_efact_answers`; the fixed-length record layer (zones, checksums) is
:mod:`.mycarenet_efact_records`.

Pure: no clock (the creation date is in the batch), no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

from ehealth_hub.mappings.mycarenet_efact_records import (
    LAYOUTS,
    RECORD_LENGTH,
    parse_record,
    records,
    render,
)

__all__ = [
    "LAYOUTS",
    "RECORD_LENGTH",
    "Batch",
    "Invoice",
    "InvoiceLine",
    "Sender",
    "control_number",
    "destination",
    "parse_record",
    "records",
    "render",
    "write_batch",
]

SOLIDARIS_TO_300: Final = frozenset(
    {"304", "305", "309", "311", "315", "317", "319", "322", "323", "325"}
)


def destination(mutuality: str) -> str:
    """The mutuality (or federation) an invoice is addressed to (CIN destination rules)."""
    if mutuality in SOLIDARIS_TO_300:
        return "300"
    return "400" if mutuality.startswith("4") else mutuality


def control_number(codes: Sequence[str]) -> int:
    """``sum(nomenclature codes) mod 97``, 97 when the remainder is 0."""
    return sum(int(c) for c in codes) % 97 or 97


@dataclass(frozen=True, slots=True)
class Sender:
    """The invoicing care provider and the account the mutualities pay into."""

    nihii: str
    cbe: str
    iban: str
    bic: str
    family: str
    given: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One service: nomenclature code, date, amount claimed from the mutuality."""

    code: str
    serviced: date
    amount: Decimal
    line_ref: str
    """The hub's reference of the line (the claim's message id): comes back in the result file."""
    supplement: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class Invoice:
    """The invoice for one patient."""

    invoice_number: int
    ssin: str
    gender: str
    mutuality: str
    ct1: str
    ct2: str
    reference: str
    lines: tuple[InvoiceLine, ...]


@dataclass(frozen=True, slots=True)
class Batch:
    """One sending to one federation."""

    sender: Sender
    federation: str
    sending_number: int
    reference: int
    """Numerical reference of the message (14 digits), unique per sender."""
    year: int
    month: int
    created: date
    test: bool
    invoices: tuple[Invoice, ...]


@dataclass
class _Writer:
    records: list[str] = field(default_factory=list)

    def add(self, kind: str, **zones: object) -> None:
        self.records.append(render(kind, zones))


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def write_batch(batch: Batch) -> str:
    """The 920000 flat file of ``batch`` (records 200, 300, 10, 20/50/80..., 90, 95..., 96)."""
    w = _Writer()
    _write_headers(w, batch)
    n = 1  # record 10 is record number 1; records 20 to 90 continue the count
    per_mutuality: dict[str, tuple[int, int, list[str]]] = {}
    total, all_codes = 0, list[str]()
    for invoice in batch.invoices:
        n, amount, codes = _write_invoice(w, invoice, n)
        dest = destination(invoice.mutuality)
        old = per_mutuality.get(dest, (0, 0, []))
        per_mutuality[dest] = (old[0] + amount, old[1] + len(invoice.lines) + 2, old[2] + codes)
        total, all_codes = total + amount, all_codes + codes
    _write_footers(w, batch, n + 1, total, all_codes, per_mutuality)
    return "".join(w.records)


def _write_headers(w: _Writer, batch: Batch) -> None:
    """Segments 200 (message) and 300 (batch), then record 10 (file header, record number 1)."""
    s = batch.sender
    w.add(
        "200",
        name=920000,
        version=2,
        file_version=1,
        reference=batch.reference,
        test=int(batch.test),
    )
    w.add(
        "300",
        month=batch.year * 100 + batch.month,
        sending=batch.sending_number,
        created=batch.created.strftime("%Y%m%d"),
        file_ref=str(batch.reference)[-13:],
        family=s.family,
        given=s.given,
        phone=s.phone,
        type=3,
    )
    w.add(
        "10",
        record=1,
        nihii=s.nihii,
        year=batch.year,
        month=batch.month,
        created=batch.created.strftime("%Y%m%d"),
        cbe=s.cbe,
        batch_ref=str(batch.reference)[-13:],
        bic=s.bic,
        iban=s.iban,
    )


def _write_invoice(w: _Writer, invoice: Invoice, n: int) -> tuple[int, int, list[str]]:
    """Records 20, 50 per line and 80 after record number ``n``: (last record number, amount in
    cents, nomenclature codes) for the totals of records 90, 95 and 96."""
    n += 1
    w.add(
        "20",
        record=n,
        mutuality=invoice.mutuality,
        ssin=invoice.ssin.zfill(13),
        gender=1 if invoice.gender == "male" else 2,
        destination=destination(invoice.mutuality),
        invoice=invoice.invoice_number,
        ct=int(invoice.ct1 or 0) * 1000 + int(invoice.ct2 or 0),
        reference=invoice.reference,
    )
    amount, codes = 0, list[str]()
    for line in invoice.lines:
        n += 1
        cents = _cents(line.amount)
        amount, codes = amount + cents, [*codes, line.code]
        w.add(
            "50",
            record=n,
            norm=0,
            code=line.code,
            date=line.serviced.strftime("%Y%m%d"),
            mutuality=invoice.mutuality,
            ssin=invoice.ssin.zfill(13),
            sign="+",
            amount=cents,
            supplement=_cents(line.supplement),
            line_ref=line.line_ref,
        )
    n += 1
    w.add(
        "80",
        record=n,
        invoice=invoice.invoice_number,
        sign="+",
        amount=amount,
        records=len(invoice.lines) + 2,
        control=control_number(codes),
    )
    return n, amount, codes


def _write_footers(
    w: _Writer,
    batch: Batch,
    n: int,
    total: int,
    all_codes: list[str],
    per_mutuality: dict[str, tuple[int, int, list[str]]],
) -> None:
    """Record 90 (file footer, record number ``n``), 95 per mutuality, 96 for the batch."""
    w.add(
        "90",
        record=n,
        sign="+",
        amount=total,
        records=n,
        control=control_number(all_codes) if all_codes else 97,
    )
    for mutuality, (amount, count, codes) in sorted(per_mutuality.items()):
        w.add(
            "95",
            mutuality=mutuality,
            reference=batch.reference,
            sign="+",
            amount=amount,
            records=count,
            control=control_number(codes),
        )
    w.add(
        "96",
        federation=batch.federation[:1] + "99",
        sign="+",
        amount=total,
        records=n,
        control=control_number(all_codes) if all_codes else 97,
    )
