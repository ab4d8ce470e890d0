"""Settings of the eHealth connectors: endpoints, regional hubs, GP systems, timeouts, retries."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ehealth_hub.settings.base import Section

SIMULATORS: str = "http://simulators.sandbox"
"""Base of the in-process sandbox simulators (``fixtures.simulate``); any ``*.sandbox`` host is
served in-process, never resolved."""


SANDBOX_GP_SECRET = "sandbox-gp-secret"  # noqa: S105  # public sandbox value, refused elsewhere


class GpSystemSettings(Section):
    """One GP record system reached over FHIR R4 with OAuth2 client credentials."""

    base_url: str = f"{SIMULATORS}/gp/sandbox-gp/fhir"
    """FHIR base URL of the GP software."""
    token_url: str = f"{SIMULATORS}/gp/sandbox-gp/oauth2/token"
    """Its OAuth2 token endpoint."""
    client_id: str = "ehealth-hub"
    """The hub's OAuth2 client id there."""
    client_secret: str = SANDBOX_GP_SECRET
    """The hub's OAuth2 client secret (a secret)."""


def _default_hubs() -> dict[str, str]:
    return {k: f"{SIMULATORS}/intrahub/{k}/v3" for k in ("rsw", "abrumet", "cozo", "vitalink")}


def _default_hub_ids() -> dict[str, str]:
    return {
        "rsw": "1990000035",
        "abrumet": "1990000728",
        "cozo": "1990000332",
        "vitalink": "1990001916",
    }


class EndpointSettings(Section):
    """Endpoints, timeouts and retries of the eHealth connectors (issue 5); the defaults are the
    in-process simulators (refused outside the sandbox)."""

    consent: str = f"{SIMULATORS}/consent/v3"
    """National Consent service endpoint."""
    therlink: str = f"{SIMULATORS}/therlink/v1"
    """Therapeutic Link service endpoint."""
    addressbook: str = f"{SIMULATORS}/addressbook/v1"
    """AddressBook endpoint."""
    ehbox_publication: str = f"{SIMULATORS}/ehbox/v3"
    """eHealthBox publication (sendMessage) endpoint."""
    ehbox_consultation: str = f"{SIMULATORS}/ehbox/v3"
    """eHealthBox consultation (getMessagesList, getFullMessage, ...) endpoint."""
    hubs: dict[str, str] = Field(default_factory=_default_hubs)
    """The regional hubs to ask (key -> IntraHub v3 TransactionService endpoint)."""
    hub_ids: dict[str, str] = Field(default_factory=_default_hub_ids)
    """Hub key -> the hub's id (HCPARTY id of the hub application)."""
    gp_systems: dict[str, GpSystemSettings] = Field(
        default_factory=lambda: {"gp": GpSystemSettings()}
    )
    """GP record systems by key (the key is the record source name)."""
    wsdl: dict[str, Path] = Field(default_factory=dict)
    """Optional official WSDL per WSDL-described connector (consent, therlink, addressbook, ehbox)
    whose messages are built and read instead of the project's own; absent = the packaged WSDL.
    IntraHub needs none: its messages are built with lxml (``connectors/hubservices_xml.py``)."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """Default time one attempt of a downstream call may take."""
    timeouts: dict[str, float] = Field(default_factory=dict)
    """Per-downstream override of ``timeout_seconds`` (consent, therlink, <hub key>, ehbox...)."""
    retry_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts of an idempotent read (writes are attempted once)."""
    retry_initial_seconds: float = Field(default=0.2, ge=0, le=30)
    """First backoff; doubles each retry, less jitter."""
    retry_max_seconds: float = Field(default=5.0, ge=0, le=120)
    """Longest single backoff."""
    retry_jitter: float = Field(default=0.5, ge=0, le=1)
    """Largest share of a backoff taken off at random (``transport.resilience.RetryPolicy``)."""
    breaker_failures: int = Field(default=5, ge=1, le=100)
    """Consecutive unavailability failures that open an endpoint's circuit."""
    breaker_reset_seconds: float = Field(default=30.0, gt=0, le=3600)
    """How long a circuit stays open before one trial call."""

    def urls(self) -> dict[str, str]:
        """Every configured endpoint by downstream name."""
        out = {
            "consent": self.consent,
            "therlink": self.therlink,
            "addressbook": self.addressbook,
            "ehbox_publication": self.ehbox_publication,
            "ehbox_consultation": self.ehbox_consultation,
        }
        out.update({f"hubs.{k}": v for k, v in self.hubs.items()})
        for key, gp in self.gp_systems.items():
            out[f"gp_systems.{key}.base_url"] = gp.base_url
            out[f"gp_systems.{key}.token_url"] = gp.token_url
        return out

    def sandbox_defaults(self) -> list[str]:
        """Endpoints still on the in-process simulators, and the sandbox GP secret."""
        names = [n for n, url in self.urls().items() if ".sandbox" in url]
        return names + [
            f"gp_systems.{k}.client_secret"
            for k, gp in self.gp_systems.items()
            if gp.client_secret == SANDBOX_GP_SECRET
        ]
