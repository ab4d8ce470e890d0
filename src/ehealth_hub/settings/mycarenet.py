"""Settings of MyCareNet: package licence, endpoints, claim wait, per-federation routing."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import Field

from ehealth_hub.settings.base import Section

SANDBOX_LICENCE_SECRET: Final = "sandbox-licence-secret"  # noqa: S105  # public sandbox value, refused outside it


class FederationSettings(Section):
    """How claims for one mutuality federation (100 CM ... 900 HR Rail) are handled."""

    open: bool = True
    """False: the federation is closed to the hub's claims; refused before anything is sent."""
    route: Literal["auto", "eattest", "efact"] = "auto"
    """auto = eFact when the patient has third-party payment, else eAttest."""


class MhcSettings(Section):
    """MyCareNet Mental Health Care (MHC), where psychologist sessions of the first-line convention
    are recorded. ACCEPTANCE-ONLY: its message shape is assumed (``mappings/mhc.py``)."""

    enabled: bool = True
    """Route psychologist session claims (the tariff table's ``mhc`` rows) to MHC; False = such
    claims are refused before anything is sent (422 ``billing.route``)."""
    url: str = "http://mycarenet.sandbox/MyCareNet/MHC/v1"
    """MHC endpoint (assumed path; ``{url}/sessions``)."""
    shape_verified: bool = False
    """Set only once the assumed message (mappings/mhc.py ASSUMED) was checked against MyCareNet's
    MHC specification; while false, the hub refuses to start in production with MHC enabled."""


def _default_federations() -> dict[str, FederationSettings]:
    return {c: FederationSettings() for c in ("100", "200", "300", "400", "500", "600", "900")}


class MyCareNetSettings(Section):
    """MyCareNet (issue 7): package licence, endpoints, waits, per-federation routing."""

    package_name: str = "ehealth-hub"
    """Software package name registered with MyCareNet (CommonInput/Origin/Package/Name)."""
    license_username: str = "sandbox-licence"
    """Package licence user name granted by the CIN/NIC."""
    license_password: str = SANDBOX_LICENCE_SECRET
    """Package licence password (a secret)."""
    is_test: bool = True
    """CommonInput/Request/IsTest: true in sandbox and acceptance."""
    memberdata_url: str = "http://mycarenet.sandbox/MyCareNet/MemberData/v1"
    """MemberData v1 endpoint."""
    attest_url: str = "http://mycarenet.sandbox/MyCareNet/Attest/v3"
    """eAttest v3 endpoint."""
    genasync_url: str = "http://mycarenet.sandbox/MyCareNet/GenAsync/Efact/v1"
    """GenericAsync endpoint for eFact."""
    gmd_url: str = "http://mycarenet.sandbox/MyCareNet/GlobalMedicalFile/v1"
    """GlobalMedicalFile endpoint (ConsultGlobalMedicalFile: who holds the patient's GMD)."""
    billing_rules_file: Path | None = None
    """The tariff and rules table of the teleconsultation codes (CSV, see
    services/billing_rules.py); None = the table packaged with the hub."""
    wait_seconds: float = Field(default=5.0, ge=0, le=60)
    """How long ``POST /fhir/Claim/$submit`` waits for the answer before 202 + Task."""
    call_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    """Longest wait for one MyCareNet call; after it the outcome is unknown and is asked for."""
    insurability_cache_seconds: int = Field(default=3600, ge=0, le=86400)
    """How long a MemberData answer is reused for the same patient and date."""
    efact_cbe: str = "0790000068"
    """CBE of the organisation receiving eFact payments (record 10)."""
    efact_iban: str = "BE71096123456769"
    """Account the mutualities pay eFact invoices into (record 10)."""
    efact_bic: str = "GKCCBEBB"
    """BIC of that account."""
    federations: dict[str, FederationSettings] = Field(default_factory=_default_federations)
    """Per federation routing code (100 .. 900): open or closed, eAttest or eFact."""
    mhc: MhcSettings = Field(default_factory=MhcSettings)
    """Mental Health Care (psychologist sessions): acceptance-only, see :class:`MhcSettings`."""

    def sandbox_defaults(self) -> list[str]:
        """The sandbox licence and simulator endpoints are refused outside the sandbox."""
        names = ["license_password"] if self.license_password == SANDBOX_LICENCE_SECRET else []
        urls = ("memberdata_url", "attest_url", "genasync_url", "gmd_url")
        mhc = ["mhc.url"] if self.mhc.enabled and ".sandbox" in self.mhc.url else []
        return names + [n for n in urls if ".sandbox" in getattr(self, n)] + mhc
