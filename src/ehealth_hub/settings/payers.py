"""Settings of the payers besides the mutualities: private insurers (issue 22).

No standard electronic claims interface exists between Belgian care providers and private
insurers for ambulatory care: each insurer is a configured party reached over its own FHIR API with
OAuth2 client credentials (the bilateral route), and receives only the elements it was agreed
to receive (``data``) for the plans it runs (``plans``), with the patient's explicit consent for
that insurer (a be-Consent, checked by the gate: ``services.insurer_claims``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ehealth_hub.core.identifiers import Cbe
from ehealth_hub.settings.base import Section
from ehealth_hub.settings.endpoints import SIMULATORS

SANDBOX_INSURER_SECRET = "sandbox-insurer-secret"  # noqa: S105  # public sandbox value, refused elsewhere

InsurerElement = Literal[
    "service",
    "date",
    "fee",
    "mutuality-reimbursement",
    "patient-cost",
    "reference",
    "provider",
    "diagnosis",
]
"""What a minimal insurer claim may carry (``mappings.insurer_claim`` writes each one).
``diagnosis`` leaves only when the patient's insurer consent opts in as well
(``consent.resource``: a nested permit provision of class Condition)."""

DEFAULT_DATA: tuple[InsurerElement, ...] = (
    "service",
    "date",
    "fee",
    "mutuality-reimbursement",
    "patient-cost",
    "reference",
)
"""The minimal claim: service, date, fee, what the mutuality paid and left, its reference."""


class InsurerSettings(Section):
    """One private insurer the app's insured employees may be covered by."""

    name: str
    """Its name (shown on Tasks and in the demo)."""
    cbe: str
    """Its CBE/KBO number (10 digits, check digits verified): the consent's recipient."""
    base_url: str
    """FHIR base URL of its claims API (``.../fhir``)."""
    token_url: str
    """Its OAuth2 token endpoint (client credentials)."""
    client_id: str
    """The hub's OAuth2 client id there."""
    client_secret: str
    """The hub's OAuth2 client secret (a secret: never logged)."""
    plans: tuple[str, ...] = ()
    """The plans (policy codes) whose members' claims go to it."""
    data: tuple[InsurerElement, ...] = DEFAULT_DATA
    """The elements it may receive (data minimisation): nothing else is ever sent; ``diagnosis``
    only with the patient's opt-in as well."""

    @field_validator("cbe")
    @classmethod
    def _cbe(cls, value: str) -> str:
        return Cbe.parse(value).value


def _sandbox_insurers() -> dict[str, InsurerSettings]:
    base = f"{SIMULATORS}/insurer/ag"
    return {
        "ag": InsurerSettings(
            name="AG Insurance (sandbox)",
            cbe="0404494849",
            base_url=f"{base}/fhir",
            token_url=f"{base}/oauth2/token",
            client_id="ehealth-hub",
            client_secret=SANDBOX_INSURER_SECRET,
            plans=("AG-EB-HEALTH",),
            # agreed, but sent only for a patient whose insurer consent opts in to it
            data=(*DEFAULT_DATA, "diagnosis"),
        )
    }


class PayersSettings(Section):
    """Payers besides the mutualities: the private insurers (key -> insurer)."""

    insurers: dict[str, InsurerSettings] = Field(default_factory=_sandbox_insurers)
    """The configured insurers; the default is the sandbox simulator (refused elsewhere)."""

    def sandbox_defaults(self) -> list[str]:
        """Insurers still on the in-process simulator or the sandbox secret."""
        return [
            f"insurers.{key}"
            for key, insurer in self.insurers.items()
            if ".sandbox" in insurer.base_url
            or ".sandbox" in insurer.token_url
            or insurer.client_secret == SANDBOX_INSURER_SECRET
        ]
