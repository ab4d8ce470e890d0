"""Settings of the consent gate and of the tamper-evident audit trail (``consent/``, ``audit/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from ehealth_hub.settings.base import Section


class RoleRule(Section):
    """What care providers of one eHealth quality may do through the hub (consent policy)."""

    actions: tuple[Literal["read-dossier", "write-note", "submit-claim", "insurer-claim"], ...] = (
        "read-dossier",
        "write-note",
        "submit-claim",
        "insurer-claim",
    )
    """The actions this quality may ask the consent gate for."""
    data_classes: tuple[str, ...] = ("*",)
    """Data classes this quality may read (``*`` = all): summary, medication, vaccination, ..."""


def _default_role_rules() -> dict[str, RoleRule]:
    return {
        "doctor": RoleRule(),
        "clinical_psychologist": RoleRule(
            actions=("read-dossier", "write-note", "submit-claim", "insurer-claim"),
            data_classes=("summary", "medication", "allergies"),
        ),
        "nurse": RoleRule(
            actions=("read-dossier",), data_classes=("medication", "vaccination", "allergies")
        ),
    }


class ConsentSettings(Section):
    """The consent gate (issue 6): sources, role rules, break-the-glass and the decision cache."""

    cache_staleness_seconds: int = Field(default=300, ge=0, le=3600)
    """How long a positive decision may be reused without asking the sources again (0 = never);
    never past the end of the consent or link it rests on."""
    permit_validity_seconds: int = Field(default=300, ge=1, le=3600)
    """Lifetime of a Permit issued on a normal (treatment) decision."""
    accepted_link_types: tuple[str, ...] = (
        "gpconsultation",
        "gpofficialconsultation",
        "consultation",
        "multidisciplinaryconsultation",
        "hospitalization",
    )
    """CD-TL therapeutic link types that open a patient's dossier to the linked provider."""
    role_rules: dict[str, RoleRule] = Field(default_factory=_default_role_rules)
    """Per eHealth quality: the actions and data classes allowed; a quality absent here gets
    a not-applicable decision (treated as a denial)."""
    break_glass_qualities: tuple[str, ...] = ("doctor",)
    """Qualities that may invoke break-the-glass (purpose emergency, read-dossier only)."""
    break_glass_validity_seconds: int = Field(default=900, ge=60, le=3600)
    """Lifetime of a break-the-glass Permit (short: the emergency, not the follow-up)."""
    source_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    """How long the gate waits for each consent source before failing closed; covers a cold
    start (STS token, WSDL load: ~7 s in the sandbox); the connectors bound each attempt too."""


class AuditSettings(Section):
    """The tamper-evident audit trail (hash chain in the database, signed heads on disk)."""

    key_file: Path | None = None
    """PEM Ed25519 private key signing the chain head; None = generated under
    ``data_dir/audit`` (sandbox only)."""
    checkpoint_interval_seconds: float = Field(default=5.0, ge=1, le=86400)
    """How often the running hub signs the chain head and appends it to ``data_dir/audit``:
    records newer than the last signed head are the unprotected tail (their deletion cannot be
    told from their never having been written), so this bounds it."""
    unsigned_grace_seconds: float = Field(default=30.0, ge=0, le=86400)
    """``audit verify`` fails when records older than ``checkpoint_interval_seconds`` plus this
    are covered by no signed head (heads file missing, emptied, rolled back; checkpoints stopped).
    After a crash, ``ehealth-hub audit checkpoint`` signs the tail the hub left unsigned."""

    @property
    def max_unsigned_seconds(self) -> float:
        """The age past which a record must be covered by a signed head."""
        return self.checkpoint_interval_seconds + self.unsigned_grace_seconds

    def sandbox_defaults(self) -> list[str]:
        return ["key_file"] if self.key_file is None else []
