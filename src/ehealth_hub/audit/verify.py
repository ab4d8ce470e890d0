"""``ehealth-hub audit verify``: checks the hash chain and the signed heads, naming each problem.

Problems found, by kind:

* ``edited``: a record's body no longer hashes to its stored hash, its searchable columns disagree
  with the hashed body, or its successor links to a hash no record has (it was rewritten);
* ``deleted``: a record links to a predecessor that is gone (the sequence has a gap);
* ``inserted``: a record no other record links to sits between two that link to each other;
* ``reordered``: a record comes before the record it links to;
* ``truncated``: the chain head row or a signed head names records past the end of the table;
* ``rewritten``: a signed head names a record whose hash has changed since it was signed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.chain import GENESIS, link_hash
from ehealth_hub.audit.heads import SignedHead
from ehealth_hub.audit.log import INDEX_FIELDS, AuditLog, ChainHead, as_utc
from ehealth_hub.store.errors import storage_errors
from ehealth_hub.store.tables import audit_events

Kind = Literal["edited", "deleted", "inserted", "reordered", "truncated", "rewritten"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of the verification, at a sequence number."""

    kind: Kind
    seq: int
    text: str


@dataclass
class Report:
    """What ``audit verify`` found."""

    records: int = 0
    signed_heads: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the trail is intact."""
        return not self.problems

    def kinds(self) -> set[str]:
        """The kinds of problem found."""
        return {p.kind for p in self.problems}


@dataclass(frozen=True, slots=True)
class _Link:
    seq: int
    prev_hash: str
    hash: str


async def verify(engine: AsyncEngine, heads: list[SignedHead]) -> Report:
    """Verify the whole trail in ``engine`` against the signed ``heads``."""
    report = Report(signed_heads=len(heads))
    links: list[_Link] = []
    async with engine.connect() as conn:
        with storage_errors("audit.verify"):
            rows = await conn.stream(select(audit_events).order_by(audit_events.c.seq))
            async for row in rows:
                links.append(_Link(row.seq, row.prev_hash, row.hash))
                _check_content(row._mapping, report)
        db_head = await AuditLog().head(conn)
    report.records = len(links)
    _check_links(links, report)
    _check_tail(links, db_head, heads, report)
    report.problems.sort(key=lambda p: p.seq)
    return report


def _check_content(row: Any, report: Report) -> None:
    seq = row["seq"]
    if link_hash(row["prev_hash"], row["body"]) != row["hash"]:
        report.problems.append(Problem("edited", seq, f"record {seq} does not match its hash"))
        return
    index = json.loads(row["body"])["index"]
    wrong = [name for name in INDEX_FIELDS if row[name] != index[name]]
    if as_utc(row["recorded"]).isoformat() != index["recorded"]:
        wrong.append("recorded")
    if wrong:
        text = f"record {seq}: columns {', '.join(wrong)} differ from the hashed body"
        report.problems.append(Problem("edited", seq, text))


def _check_links(links: list[_Link], report: Report) -> None:
    position = {link.hash: i for i, link in enumerate(links)}
    pred = [
        GENESIS_POS if link.prev_hash == GENESIS else position.get(link.prev_hash) for link in links
    ]
    reordered = {i for i, p in enumerate(pred) if p is not None and p > i}
    linked_to = {p for p in pred if p is not None}
    for i, link in enumerate(links):
        p = pred[i]
        if p == i - 1:
            continue
        if i in reordered:
            text = f"record {link.seq} comes before the record it links to"
            report.problems.append(Problem("reordered", link.seq, text))
        elif p is None:
            _missing_predecessor(links, i, report)
        else:
            for j in range(p + 1, i):
                if j not in reordered and j not in linked_to:
                    text = f"record {links[j].seq} is not part of the chain (inserted)"
                    report.problems.append(Problem("inserted", links[j].seq, text))


GENESIS_POS = -1


def _missing_predecessor(links: list[_Link], i: int, report: Report) -> None:
    link = links[i]
    previous_seq = links[i - 1].seq if i else 0
    if link.seq - previous_seq > 1:
        text = f"records {previous_seq + 1}..{link.seq - 1} are missing (deleted)"
        report.problems.append(Problem("deleted", link.seq, text))
    else:
        text = f"record {link.seq} links to a hash no record has: record {previous_seq} rewritten"
        report.problems.append(Problem("edited", previous_seq, text))


def _check_tail(
    links: list[_Link], db_head: ChainHead, heads: list[SignedHead], report: Report
) -> None:
    last = links[-1] if links else _Link(0, GENESIS, GENESIS)
    if db_head.seq > last.seq:
        text = f"the chain head names record {db_head.seq}, the table ends at {last.seq}"
        report.problems.append(Problem("truncated", last.seq, text))
    by_seq = {link.seq: link for link in links}
    for head in heads:
        if head.seq > last.seq:
            text = (
                f"signed head of {head.signed_at} names record {head.seq}; table ends at {last.seq}"
            )
            report.problems.append(Problem("truncated", head.seq, text))
        elif head.seq in by_seq and by_seq[head.seq].hash != head.hash:
            text = f"record {head.seq} no longer has the hash signed at {head.signed_at}"
            report.problems.append(Problem("rewritten", head.seq, text))
