"""``ehealth-hub audit verify``: checks the hash chain and the signed heads, naming each problem.

Problems found, by kind:

* ``edited``: a record's body no longer hashes to its stored hash, its searchable columns disagree
  with the hashed body, or its successor links to a hash no record has (it was rewritten);
* ``deleted``: a record links to a predecessor that is gone (the sequence has a gap);
* ``inserted``: a record no other record links to sits between two that link to each other;
* ``reordered``: a record comes before the record it links to;
* ``truncated``: the chain head row or a signed head names records past the end of the table;
* ``rewritten``: a signed head names a record whose hash has changed since it was signed.

With a :class:`Seal` (what ``ehealth-hub audit verify`` always passes), also:

* ``forged``: a keyed record (``seq >= keyed_from``) has no MAC or a wrong one: appended or
  rewritten by someone without the hub's key, or copied from another database;
* ``foreign``: a signed head names another database or another start of the keyed chain (or is an
  unbound head from before the keyed chain naming a keyed record);
* ``unsigned``: records older than ``max_unsigned_seconds`` that no signed head covers: the heads
  file is missing, was emptied or rolled back, or checkpoints stopped (sign with ``audit
  checkpoint`` once the trail is known good).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.audit.chain import GENESIS, link_hash, mac_matches
from ehealth_hub.audit.heads import SignedHead
from ehealth_hub.audit.log import INDEX_FIELDS, AuditLog, ChainHead, ChainIdentity, as_utc
from ehealth_hub.store.errors import storage_errors
from ehealth_hub.store.tables import audit_events

Kind = Literal[
    "edited",
    "deleted",
    "inserted",
    "reordered",
    "truncated",
    "rewritten",
    "forged",
    "foreign",
    "unsigned",
]


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
class Seal:
    """What only the holder of the audit key can check: MACs, heads' binding, the unsigned tail."""

    key: bytes
    """The chain's MAC key (:attr:`ehealth_hub.audit.heads.HeadSigner.mac_key`)."""
    now: datetime
    max_unsigned_seconds: float
    """Records older than this must be covered by a signed head (checkpoint interval + grace)."""


@dataclass(frozen=True, slots=True)
class _Link:
    seq: int
    prev_hash: str
    hash: str
    mac: str | None = None
    recorded: datetime | None = None


async def verify(engine: AsyncEngine, heads: list[SignedHead], seal: Seal | None = None) -> Report:
    """Verify the whole trail in ``engine`` against the signed ``heads``; without ``seal`` only
    the structure of the hash chain and the heads' hashes are checked."""
    report = Report(signed_heads=len(heads))
    links: list[_Link] = []
    async with engine.connect() as conn:
        with storage_errors("audit.verify"):
            rows = await conn.stream(select(audit_events).order_by(audit_events.c.seq))
            async for row in rows:
                links.append(_Link(row.seq, row.prev_hash, row.hash, row.mac, as_utc(row.recorded)))
                _check_content(row._mapping, report)
        db_head = await AuditLog().head(conn)
        identity = await AuditLog().identity(conn) if seal is not None else None
    report.records = len(links)
    _check_links(links, report)
    _check_tail(links, db_head, heads, report)
    if seal is not None and identity is not None:
        _check_macs(links, identity, seal, report)
        _check_heads(links, identity, heads, seal, report)
    report.problems.sort(key=lambda p: p.seq)
    return report


def _check_macs(links: list[_Link], identity: ChainIdentity, seal: Seal, report: Report) -> None:
    for link in links:
        if link.seq >= identity.keyed_from and not mac_matches(
            seal.key, identity.database_id, link.seq, link.hash, link.mac
        ):
            what = "has no MAC" if link.mac is None else "has a MAC the hub's key did not make"
            text = f"record {link.seq} {what} (written without the audit key, or moved)"
            report.problems.append(Problem("forged", link.seq, text))


def _check_heads(
    links: list[_Link],
    identity: ChainIdentity,
    heads: list[SignedHead],
    seal: Seal,
    report: Report,
) -> None:
    covered = 0
    for head in heads:
        if _foreign(head, identity):
            text = f"signed head of {head.signed_at} (record {head.seq}) is not this database's"
            report.problems.append(Problem("foreign", head.seq, text))
        else:
            covered = max(covered, head.seq)
    limit = seal.now - timedelta(seconds=seal.max_unsigned_seconds)
    bare = [x for x in links if x.seq > covered and x.recorded is not None and x.recorded < limit]
    if bare:
        text = (
            f"records {bare[0].seq}..{bare[-1].seq}, older than {seal.max_unsigned_seconds:g} s, "
            f"are covered by no signed head (heads file missing, emptied or rolled back?)"
        )
        report.problems.append(Problem("unsigned", bare[0].seq, text))


def _foreign(head: SignedHead, identity: ChainIdentity) -> bool:
    if not head.database_id:  # signed before the keyed chain: only for the records before it
        return head.seq >= identity.keyed_from
    return (head.database_id, head.keyed_from) != (identity.database_id, identity.keyed_from)


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
