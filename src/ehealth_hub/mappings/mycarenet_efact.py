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

Pure: no clock (the creation date is in the batch), no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

from ehealth_hub.errors import MappingError
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
    "Ack",
    "Batch",
    "Invoice",
    "InvoiceLine",
    "LineResult",
    "Sender",
    "check_batch",
    "control_number",
    "destination",
    "parse_record",
    "read_ack",
    "read_result",
    "records",
    "render",
    "write_ack",
    "write_batch",
    "write_result",
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


@dataclass(frozen=True, slots=True)
class LineResult:
    """A mutuality's verdict on one record 50."""

    record: int
    invoice_number: int
    accepted: bool
    line_ref: str
    zone: str = ""
    code: str = ""


@dataclass(frozen=True, slots=True)
class Ack:
    """The acknowledgement of a whole batch."""

    reference: int
    accepted: bool
    code: str = ""


@dataclass
class _Writer:
    records: list[str] = field(default_factory=list)

    def add(self, kind: str, **zones: object) -> None:
        self.records.append(render(kind, zones))


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def write_batch(batch: Batch) -> str:
    """The 920000 flat file of ``batch`` (records 200, 300, 10, 20/50/80..., 90, 95..., 96)."""
    w, s, n = _Writer(), batch.sender, 1
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
        record=n,
        nihii=s.nihii,
        year=batch.year,
        month=batch.month,
        created=batch.created.strftime("%Y%m%d"),
        cbe=s.cbe,
        batch_ref=str(batch.reference)[-13:],
        bic=s.bic,
        iban=s.iban,
    )
    per_mutuality: dict[str, tuple[int, int, list[str]]] = {}
    total, all_codes = 0, list[str]()
    for invoice in batch.invoices:
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
        dest = destination(invoice.mutuality)
        old = per_mutuality.get(dest, (0, 0, []))
        per_mutuality[dest] = (old[0] + amount, old[1] + len(invoice.lines) + 2, old[2] + codes)
        total, all_codes = total + amount, all_codes + codes
    n += 1
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
    return "".join(w.records)


def check_batch(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The 200 header and the records 50 of a batch after checking every control total.

    The mutuality's side (the simulator): raises MappingError naming the record and zone of the
    first inconsistency (record order, counts, amounts, control numbers).
    """
    parsed = records(text)
    kinds = [k for k, _ in parsed]
    if kinds[:3] != ["200", "300", "10"] or kinds[-1] != "96":
        raise MappingError(
            "eFact file must start with 200, 300, 10 and end with 96",
            field="file",
            rule="efact.order",
        )
    lines = [z for k, z in parsed if k == "50"]
    footer = next(z for k, z in parsed if k == "90")
    total = sum(int(z["amount"]) for z in lines)
    if int(footer["amount"]) != total:
        raise MappingError(
            "record 90 amount differs from the sum of records 50",
            field="90.amount",
            rule="efact.total",
        )
    codes = [z["code"].lstrip("0") for z in lines]
    if int(footer["control"]) != (control_number(codes) if codes else 97):
        raise MappingError(
            "record 90 control number wrong", field="90.control", rule="efact.control"
        )
    last = next(z for k, z in parsed if k == "96")
    if int(last["records"]) != int(footer["records"]):
        raise MappingError(
            "record 96 record count differs from record 90", field="96.records", rule="efact.count"
        )
    return parsed[0][1], lines


def write_ack(ack: Ack) -> str:
    """A 931000 acknowledgement file (one record)."""
    return render(
        "931000",
        {"reference": ack.reference, "status": "A" if ack.accepted else "R", "code": ack.code},
    )


def read_ack(text: str) -> Ack:
    """The acknowledgement in a 931000 file."""
    (kind, zones), *_ = records(text)
    if kind != "931000":
        raise MappingError("not a 931000 acknowledgement", field="record.type", rule="efact.ack")
    return Ack(int(zones["reference"]), zones["status"] == "A", zones["code"])


def write_result(results: Sequence[LineResult]) -> str:
    """A 920099 result file: one record per record 50 of the batch."""
    return "".join(
        render(
            "920099",
            {
                "record": r.record,
                "invoice": r.invoice_number,
                "status": "A" if r.accepted else "R",
                "zone": r.zone,
                "code": r.code,
                "line_ref": r.line_ref,
            },
        )
        for r in results
    )


def read_result(text: str) -> list[LineResult]:
    """Per-line results of a 920099 file."""
    out = []
    for kind, z in records(text):
        if kind != "920099":
            raise MappingError(
                f"unexpected record {kind} in a result file",
                field="record.type",
                rule="efact.result",
            )
        out.append(
            LineResult(
                int(z["record"]),
                int(z["invoice"]),
                z["status"] == "A",
                z["line_ref"],
                z["zone"],
                z["code"],
            )
        )
    return out
