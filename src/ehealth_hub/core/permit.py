"""The Permit: proof that the consent gate said yes, required by every dossier read and note write.

Only :mod:`ehealth_hub.consent.gate` can mint one (it holds the module-private key); connector
methods that read a dossier or write a note take a ``Permit`` and call :func:`require` first, which
checks that it is genuine, for this patient and action, and not expired. Building a Permit by hand
raises at once, so a forgotten gate call fails in the first test that exercises the path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ehealth_hub.core.errors import ConsentDenied

Action = Literal["read-dossier", "write-note", "submit-claim", "insurer-claim"]
"""``insurer-claim``: a claim's minimal data to a private insurer the patient consented to."""

_MINT_KEY = object()


@dataclass(frozen=True, slots=True)
class Permit:
    """A positive decision of the consent gate, for one patient, actor and action."""

    patient_ssin: str
    actor_nihii: str
    action: Action
    decision_id: str
    """Id of the audited decision this permit rests on (AuditEvent / Decision id)."""
    valid_until: datetime
    data_classes: tuple[str, ...] = ()
    """The data classes the decision allows (empty = all asked for)."""
    break_the_glass: bool = False
    _key: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._key is not _MINT_KEY:
            raise TypeError("a Permit can only be issued by the consent gate")


def mint(
    *,
    patient_ssin: str,
    actor_nihii: str,
    action: Action,
    decision_id: str,
    valid_until: datetime,
    data_classes: tuple[str, ...] = (),
    break_the_glass: bool = False,
) -> Permit:
    """Issue a Permit. Only the consent gate calls this."""
    return Permit(
        patient_ssin,
        actor_nihii,
        action,
        decision_id,
        valid_until,
        data_classes,
        break_the_glass,
        _MINT_KEY,
    )


def require(permit: object, *, action: Action, patient_ssin: str, now: datetime) -> Permit:
    """Check ``permit`` before a gated call; raise ConsentDenied when it does not cover it."""
    if not isinstance(permit, Permit) or permit._key is not _MINT_KEY:
        raise ConsentDenied("no permit from the consent gate", system="consent", operation=action)
    if permit.action != action:
        raise ConsentDenied(
            f"permit is for {permit.action}, not {action}", system="consent", operation=action
        )
    if permit.patient_ssin != patient_ssin:
        raise ConsentDenied("permit is for another patient", system="consent", operation=action)
    if now >= permit.valid_until:
        raise ConsentDenied("permit has expired", system="consent", operation=action)
    return permit
