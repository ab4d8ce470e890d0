"""The mutualities' side of an eFact batch (CIN/NIC eFact over MyCareNet GenericAsync v1).

Checking a received batch's control totals (:func:`check_batch`), and the answers: the
acknowledgement ``931000`` (batch received or refused) and the result file ``920099`` (one result
record per record 50: ``A`` accepted or ``R`` rejected with the zone number and error code).

Their layouts are the hub's own choices, not verified against the CIN specification (see
:mod:`.mycarenet_efact`); the simulator checks batches and writes the answers, the claim delivery
reads them. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ehealth_hub.core.errors import MappingError
from ehealth_hub.mappings.mycarenet_efact import control_number
from ehealth_hub.mappings.mycarenet_efact_records import records, render


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
