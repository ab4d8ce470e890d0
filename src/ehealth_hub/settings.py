"""Typed settings, read once at start-up and passed down from the composition root.

Sources, highest priority first: keyword arguments (tests), ``EHEALTH_HUB_*`` environment variables
(nested sections with ``__``, e.g. ``EHEALTH_HUB_API__PORT=8080``), the TOML file named by
``EHEALTH_HUB_CONFIG_FILE``, then the defaults below. Nothing else in the hub reads the environment.

``EHEALTH_HUB_ENV`` chooses the world the hub talks to:

* ``sandbox`` (default): simulators in-process, sandbox PKI, SQLite under ``./var``;
* ``acceptance`` / ``production``: real endpoints and keystores; every section that still holds a
  sandbox default is refused at start-up with the list of offending settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ehealth_hub.errors import ConfigurationError

Environment = Literal["sandbox", "acceptance", "production"]

SQLITE_DEFAULT = "sqlite+aiosqlite:///./var/ehealth-hub.db"


class Section(BaseModel):
    """Base of every settings section: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def sandbox_defaults(self) -> list[str]:
        """Names of fields still holding a sandbox-only value (refused outside the sandbox)."""
        return []


class ApiSettings(Section):
    """The HTTP API."""

    host: str = "127.0.0.1"
    """Interface ``ehealth-hub serve`` binds to."""
    port: int = Field(default=8000, ge=1, le=65535)
    """Port ``ehealth-hub serve`` listens on."""
    public_base_url: str = "http://127.0.0.1:8000"
    """Base URL clients see (used in Task links, the token audience and the CapabilityStatement)."""


class LogSettings(Section):
    """Structured logging."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Minimum level written."""
    json_output: bool = True
    """JSON lines (machines) when true, coloured console lines (people) when false."""


class RoleRule(Section):
    """What care providers of one eHealth quality may do through the hub (consent policy)."""

    actions: tuple[Literal["read-dossier", "write-note", "submit-claim"], ...] = (
        "read-dossier",
        "write-note",
        "submit-claim",
    )
    """The actions this quality may ask the consent gate for."""
    data_classes: tuple[str, ...] = ("*",)
    """Data classes this quality may read (``*`` = all): summary, medication, vaccination, ..."""


def _default_role_rules() -> dict[str, RoleRule]:
    return {
        "doctor": RoleRule(),
        "clinical_psychologist": RoleRule(
            actions=("read-dossier", "write-note", "submit-claim"),
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
    checkpoint_interval_seconds: float = Field(default=60.0, ge=1, le=86400)
    """How often the running hub signs the chain head and appends it to ``data_dir/audit``."""

    def sandbox_defaults(self) -> list[str]:
        return ["key_file"] if self.key_file is None else []


class RetryPolicySettings(Section):
    """How one delivery destination is retried (exponential backoff with jitter) and guarded."""

    base_delay_seconds: float = Field(default=2.0, gt=0, le=3600)
    """Delay before the second attempt."""
    factor: float = Field(default=2.0, ge=1.0, le=10.0)
    """Each further delay is the previous one times this factor."""
    max_delay_seconds: float = Field(default=600.0, gt=0, le=86400)
    """Cap of a single delay."""
    jitter: float = Field(default=0.5, ge=0.0, le=1.0)
    """Fraction of the delay drawn at random (0 = none; 0.5 = between half and all of it)."""
    max_attempts: int = Field(default=12, ge=1, le=1000)
    """Attempts before the item becomes a dead letter."""
    max_age_seconds: float = Field(default=86400.0, gt=0)
    """An item older than this after a failed attempt becomes a dead letter."""
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    """Consecutive retryable failures that open the destination's circuit breaker."""
    breaker_reset_seconds: float = Field(default=30.0, gt=0, le=3600)
    """How long an open circuit stays open before one trial delivery (half-open)."""


class RetentionSettings(Section):
    """How long finished deliveries stay readable (``ehealth_hub.delivery.retention``).

    Only completed, failed and dead items are ever purged (with their Task, which is the same
    row); waiting, pending and in-progress items never are. AuditEvents are never purged.
    """

    completed_seconds: float = Field(default=30 * 86400.0, ge=3600)
    """Completed items (and their Task with the downstream's answer) are kept this long."""
    failed_seconds: float = Field(default=90 * 86400.0, ge=3600)
    """Items the downstream refused (business rejection) are kept this long."""
    dead_seconds: float = Field(default=90 * 86400.0, ge=3600)
    """Dead letters are kept this long (replayable until then)."""
    interval_seconds: float = Field(default=300.0, ge=1, le=86400)
    """Each worker runs a purge pass this often."""
    batch_size: int = Field(default=500, ge=1, le=10000)
    """Rows deleted per transaction (small batches: no long locks)."""
    max_batches: int = Field(default=20, ge=1, le=10000)
    """Batches per table in one periodic pass (the rest waits for the next pass)."""


class DeliverySettings(Section):
    """The transactional outbox and its workers (``ehealth_hub.delivery``)."""

    in_process_worker: bool | None = None
    """Run a worker inside the API process; None = only when the database is SQLite."""
    default_policy: RetryPolicySettings = RetryPolicySettings()
    """Retry policy of destinations without an entry in ``policies``."""
    policies: dict[str, RetryPolicySettings] = {}
    """Retry policy per destination name (e.g. ``ehbox``, ``mycarenet``)."""
    lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    """How long a claimed item belongs to its worker unless renewed; the worker renews it every
    third of it while delivering (heartbeat), so a crashed worker's items return after it."""
    poll_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    """Idle wait between claims when the queue is empty."""
    batch_size: int = Field(default=100, ge=1, le=1000)
    """Items claimed per round trip (one per ordering key at most)."""
    concurrency: int = Field(default=8, ge=1, le=1000)
    """Deliveries in flight at once in one worker."""
    webhooks: dict[str, str] = {}
    """Destinations that POST the payload as JSON to a URL (name -> URL), with the message id
    as ``Idempotency-Key``; used for loopback receivers and generic integrations."""
    idempotency_ttl_seconds: float = Field(default=86400.0, ge=60)
    """How long an API Idempotency-Key and its stored answer are kept."""
    retention: RetentionSettings = RetentionSettings()
    """How long finished items stay readable, and how the periodic purge runs."""
    handler_timeout_seconds: float = Field(default=300.0, ge=1, le=3600)
    """Longest one delivery attempt may run; the lease is renewed meanwhile (heartbeat)."""


class AuthSettings(Section):
    """API client authentication (SMART backend services; ``ehealth_hub.auth``)."""

    clients_file: Path | None = None
    """JSON registry of clients and enrolled practitioners; None = the sandbox clients generated
    into ``data_dir/sandbox/auth`` (refused outside the sandbox)."""
    signing_key_file: Path | None = None
    """PEM EC P-256 private key signing access tokens (ES256); None = a sandbox key derived into
    ``data_dir/sandbox/auth`` (refused outside the sandbox)."""
    token_lifetime_seconds: int = Field(default=300, ge=30, le=3600)
    """Lifetime of the access tokens the hub issues."""
    assertion_max_lifetime_seconds: int = Field(default=300, ge=10, le=300)
    """Longest accepted client-assertion lifetime (SMART: at most 5 minutes)."""
    clock_skew_seconds: int = Field(default=30, ge=0, le=300)
    """Clock difference tolerated when checking exp/iat/nbf."""

    def sandbox_defaults(self) -> list[str]:
        """The sandbox clients and signing key are public: refused outside the sandbox."""
        return [
            name for name in ("clients_file", "signing_key_file") if getattr(self, name) is None
        ]


class TrustSettings(Section):
    """The trust layer: PKI, keystores, STS tokens, ETK depot (``connectors.wsse/sts/etee``)."""

    pki_dir: Path | None = None
    """Sandbox PKI directory; None = ``data_dir/sandbox/pki`` (``ehealth-hub pki init``)."""
    truststore_file: Path | None = None
    """PEM bundle of the CA certificates trusted for eHealth signatures (issuing CAs + roots);
    None = the sandbox PKI (refused outside the sandbox)."""
    sts_certificate_file: Path | None = None
    """PEM of the STS signing certificate(s) accepted on SAML assertions (pinned); None = the
    sandbox STS (refused outside the sandbox)."""
    keystore_registry: Path | None = None
    """JSON registry NIHII -> PKCS#12 keystore (``ehealth-hub keystore``); None =
    ``data_dir/keystores.json``."""
    sts_url: str = "http://sts.sandbox/IAM/SecurityTokenService/v1"
    """eHealth STS endpoint (acceptance: https://services-acpt.ehealth.fgov.be/IAM/...)."""
    etkdepot_url: str = "http://etkdepot.sandbox/EtkDepot/v1"
    """ETK depot endpoint."""
    token_renew_at: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Renew a SAML token once less than this share of its lifetime remains."""
    clock_skew_seconds: int = Field(default=300, ge=0, le=900)
    """Clock difference tolerated on Timestamps and assertion Conditions."""
    message_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    """Lifetime written in outgoing wsu:Timestamp (Expires - Created)."""
    etk_cache_seconds: int = Field(default=86400, ge=0)
    """How long a fetched ETK is reused before asking the depot again."""
    expiry_warning_days: int = Field(default=30, ge=0)
    """Warn (``keystore list``, start-up log) when a keystore certificate expires sooner."""

    def sandbox_defaults(self) -> list[str]:
        """The sandbox PKI and simulator endpoints are refused outside the sandbox."""
        names = [n for n in ("truststore_file", "sts_certificate_file") if getattr(self, n) is None]
        return names + [n for n in ("sts_url", "etkdepot_url") if ".sandbox" in getattr(self, n)]


SANDBOX_LICENCE_SECRET: Final = "sandbox-licence-secret"  # noqa: S105  # public sandbox value, refused outside it


class FederationSettings(Section):
    """How claims for one mutuality federation (100 CM ... 900 HR Rail) are handled."""

    open: bool = True
    """False: the federation is closed to the hub's claims; refused before anything is sent."""
    route: Literal["auto", "eattest", "efact"] = "auto"
    """auto = eFact when the patient has third-party payment, else eAttest."""


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

    def sandbox_defaults(self) -> list[str]:
        """The sandbox licence and simulator endpoints are refused outside the sandbox."""
        names = ["license_password"] if self.license_password == SANDBOX_LICENCE_SECRET else []
        urls = ("memberdata_url", "attest_url", "genasync_url")
        return names + [n for n in urls if ".sandbox" in getattr(self, n)]


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
    """Optional official WSDL per connector (consent, therlink, intrahub, addressbook, ehbox)
    used instead of the project's own; absent = the packaged WSDL."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """Default time one attempt of a downstream call may take."""
    timeouts: dict[str, float] = Field(default_factory=dict)
    """Per-downstream override of ``timeout_seconds`` (consent, therlink, <hub key>, ehbox...)."""
    retry_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts of an idempotent read (writes are attempted once)."""
    retry_initial_seconds: float = Field(default=0.2, ge=0, le=30)
    """First backoff; doubles each retry, plus jitter."""
    retry_max_seconds: float = Field(default=5.0, ge=0, le=120)
    """Longest single backoff."""
    retry_jitter_seconds: float = Field(default=0.2, ge=0, le=30)
    """Random extra backoff (0..jitter)."""
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


def normalise_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``sqlite://`` URLs and pick the hub's async driver."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ConfigurationError(
        "database_url must be a postgresql:// or sqlite:// URL, "
        f"got scheme {url.split(':', 1)[0]!r}",
        system="settings",
        operation="database_url",
    )


class Settings(BaseSettings):
    """All settings of the hub. Build with :func:`load_settings`; never mutate."""

    model_config = SettingsConfigDict(
        env_prefix="EHEALTH_HUB_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    env: Environment = "sandbox"
    """Which world the hub talks to: sandbox (simulators), acceptance or production."""
    database_url: str = SQLITE_DEFAULT
    """SQLAlchemy URL; plain postgresql:// and sqlite:// are accepted and get the async driver."""
    data_dir: Path = Path("var")
    """Where the hub keeps its files (SQLite database, sandbox PKI, signed audit heads)."""
    api: ApiSettings = ApiSettings()
    """The HTTP API."""
    log: LogSettings = LogSettings()
    """Structured logging."""
    consent: ConsentSettings = ConsentSettings()
    """The consent gate (policy sources, role rules, break-the-glass, decision cache)."""
    audit: AuditSettings = AuditSettings()
    """The tamper-evident audit trail (signing key, checkpoint interval)."""
    delivery: DeliverySettings = DeliverySettings()
    """The outbox, its workers and retry policies per destination."""
    auth: AuthSettings = AuthSettings()
    """API client authentication: client registry, token signing key, lifetimes."""
    trust: TrustSettings = TrustSettings()
    """Trust layer: truststore, STS pin, keystore registry, endpoints, token renewal."""
    endpoints: EndpointSettings = EndpointSettings()
    """The eHealth connectors: endpoints, regional hubs, GP systems, timeouts, retries."""
    mycarenet: MyCareNetSettings = MyCareNetSettings()
    """MyCareNet: licence, endpoints, claim wait, per-federation routing."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("EHEALTH_HUB_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        object.__setattr__(self, "database_url", normalise_database_url(self.database_url))
        if self.env != "sandbox":
            offending = self._sandbox_defaults()
            if offending:
                raise ValueError(
                    f"EHEALTH_HUB_ENV={self.env} refuses sandbox defaults: " + ", ".join(offending)
                )
        return self

    def _sandbox_defaults(self) -> list[str]:
        offending = ["database_url"] if self.database_url.startswith("sqlite") else []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Section):
                offending += [f"{name}.{field}" for field in value.sandbox_defaults()]
        return offending

    @property
    def is_sandbox(self) -> bool:
        """True in the sandbox environment (simulators, sandbox PKI)."""
        return self.env == "sandbox"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings once, raising ConfigurationError with every problem."""
    path = os.environ.get("EHEALTH_HUB_CONFIG_FILE")
    if path and not Path(path).is_file():
        raise ConfigurationError(
            f"EHEALTH_HUB_CONFIG_FILE points at {path!r}, which is not a file", system="settings"
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(problems, system="settings", operation="load") from exc
