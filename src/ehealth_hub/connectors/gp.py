"""GP record systems (the patient's own GP software) reached over FHIR R4 with OAuth2.

Standards: HL7 FHIR R4 (4.0.1) REST (search, read, create; ``Patient/$summary`` as in the IPS
operation), OAuth 2.0 client credentials (RFC 6749 section 4.4, HTTP Basic client auth),
bearer tokens (RFC 6750). One adapter, configured per GP software (:class:`GpSystemConfig`).

As a :class:`~ehealth_hub.core.ports.RecordSourcePort`: the GP's KMEHR exports are
DocumentReferences (``type`` = the CD-TRANSACTION code in the KMEHR code system) whose attachment
is a ``Binary`` holding the KMEHR message. ``read_summary`` returns the GP's FHIR summary Bundle,
``send_note`` creates a DocumentReference (a write: attempted once, with ``If-None-Exist`` on the
note's identifier so a resend by the delivery layer creates nothing twice). Tokens are cached until
80% of their life; a 401 fetches a new token and repeats the request once (a 401 means nothing was
processed). A listed export is read in one call: the search names its Binary and its
``meta.versionId``. httpx errors are translated by
:func:`ehealth_hub.transport.http_errors.translate_http`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import httpx

from ehealth_hub.core.errors import (
    AuthenticationError,
    BusinessRejection,
    DownstreamProtocolError,
    HubError,
    NotFound,
)
from ehealth_hub.core.permit import Action, Permit, require
from ehealth_hub.core.ports import Actor, TransactionRef
from ehealth_hub.transport.http_errors import HTTPX_ERRORS, translate_http
from ehealth_hub.transport.network import DirectClient
from ehealth_hub.transport.resilience import Resilience

SSIN_SYSTEM: Final = "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin"
NIHII_SYSTEM: Final = "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihii"
KMEHR_TRANSACTION_SYSTEM: Final = (
    "https://www.ehealth.fgov.be/standards/kmehr/en/tables/transaction-type"
)
FHIR_JSON: Final = "application/fhir+json"
KMEHR_MIME: Final = "application/xml"
"""The contentType of a KMEHR export when its attachment does not say."""


@dataclass(frozen=True, slots=True)
class GpSystemConfig:
    """How to reach one GP software's FHIR API."""

    name: str
    """Short key of the GP software (the ``source`` of its TransactionRefs)."""
    base_url: str
    """FHIR base URL (``.../fhir``)."""
    token_url: str
    """OAuth2 token endpoint."""
    client_id: str
    """The hub's OAuth2 client id at this GP software."""
    client_secret: str
    """The hub's OAuth2 client secret (a secret: never logged)."""
    scope: str = "system/*.read system/DocumentReference.write"
    """Scopes asked for."""


def _basic(config: GpSystemConfig) -> dict[str, str]:
    """HTTP Basic credentials (RFC 7617) of the hub's OAuth2 client, as httpx's
    ``auth=(id, secret)`` sent them."""
    pair = f"{config.client_id}:{config.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


class ClientCredentials:
    """OAuth2 client-credentials tokens, cached per config, one fetch at a time."""

    def __init__(
        self, http: DirectClient, config: GpSystemConfig, *, clock: Callable[[], datetime]
    ) -> None:
        self.http, self.config, self.clock = http, config, clock
        self._token: tuple[str, datetime] | None = None
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        self._token = None

    async def token(self) -> str:
        async with self._lock:
            if self._token is not None and self.clock() < self._token[1]:
                return self._token[0]
            data = {"grant_type": "client_credentials", "scope": self.config.scope}
            response = await self.http.request(
                "POST", self.config.token_url, data=data, headers=_basic(self.config)
            )
            if response.status_code in (400, 401):
                raise AuthenticationError(
                    f"GP system refused the hub's client credentials ({response.status_code})",
                    system=self.config.name,
                    operation="token",
                    code="invalid_client",
                )
            response.raise_for_status()
            body = response.json()
            life = float(body.get("expires_in", 300))
            self._token = (str(body["access_token"]), self.clock() + timedelta(seconds=life * 0.8))
            return self._token[0]


class GpSystemClient:
    """One GP software: a record source, a FHIR summary, and a note recipient."""

    def __init__(
        self,
        http: DirectClient,
        config: GpSystemConfig,
        resilience: Resilience,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.http, self.config, self.resilience, self.clock = http, config, resilience, clock
        self.name = config.name
        self.tokens = ClientCredentials(http, config, clock=clock)

    async def _send(self, method: str, path: str, operation: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.config.base_url.rstrip('/')}/{path}"
        headers = {"Accept": FHIR_JSON, **kwargs.pop("headers", {})}

        async def once() -> httpx.Response:
            bearer = {"Authorization": f"Bearer {await self.tokens.token()}"}
            return await self.http.request(method, url, headers={**headers, **bearer}, **kwargs)

        try:
            response = await once()
            if response.status_code == 401:
                self.tokens.forget()
                response = await once()
            return self._checked(response, operation)
        except HubError:
            raise
        except HTTPX_ERRORS as exc:
            raise translate_http(exc, system=self.name, operation=operation) from exc

    def _checked(self, response: httpx.Response, operation: str) -> httpx.Response:
        if response.status_code == 404:
            raise NotFound(
                _diagnostics(response) or "not found", system=self.name, operation=operation
            )
        if response.status_code in (400, 409, 412, 422):
            raise BusinessRejection(
                _diagnostics(response) or f"HTTP {response.status_code}",
                system=self.name,
                operation=operation,
                code=f"http-{response.status_code}",
            )
        response.raise_for_status()
        return response

    async def _json(
        self, method: str, path: str, operation: str, *, idempotent: bool, **kwargs: Any
    ) -> dict[str, Any]:
        async def attempt() -> dict[str, Any]:
            response = await self._send(method, path, operation, **kwargs)
            try:
                body = response.json()
            except ValueError as exc:
                raise DownstreamProtocolError(
                    "answer is not JSON", system=self.name, operation=operation
                ) from exc
            if not isinstance(body, dict) or "resourceType" not in body:
                raise DownstreamProtocolError(
                    "answer is not a FHIR resource", system=self.name, operation=operation
                )
            return body

        return await self.resilience.call(attempt, operation=operation, idempotent=idempotent)

    def _require(self, permit: Permit, action: Action) -> None:
        patient = permit.patient_ssin if isinstance(permit, Permit) else ""
        require(permit, action=action, patient_ssin=patient, now=self.clock())

    async def read_summary(self, permit: Permit, actor: Actor) -> dict[str, Any]:
        """The GP's FHIR summary Bundle of the permit's patient (``Patient/$summary``)."""
        self._require(permit, "read-dossier")
        params = {"identifier": f"{SSIN_SYSTEM}|{permit.patient_ssin}"}
        return await self._json(
            "GET", "Patient/$summary", "summary", idempotent=True, params=params
        )

    async def list_transactions(
        self, permit: Permit, actor: Actor, *, types: tuple[str, ...], since: date | None = None
    ) -> list[TransactionRef]:
        """The GP's KMEHR exports of these types (DocumentReferences: version, Binary URL). One
        about another patient fails the listing: the one-call read never sees it again to check."""
        self._require(permit, "read-dossier")
        params: dict[str, str] = {
            "patient.identifier": f"{SSIN_SYSTEM}|{permit.patient_ssin}",
            "type": ",".join(f"{KMEHR_TRANSACTION_SYSTEM}|{t}" for t in types),
        }
        if since is not None:
            params["date"] = f"ge{since.isoformat()}"
        bundle = await self._json(
            "GET", "DocumentReference", "search", idempotent=True, params=params
        )
        return [self._ref(entry.get("resource", {}), permit) for entry in bundle.get("entry", [])]

    def _check_subject(self, document: Any, permit: Permit, operation: str) -> None:
        if _get(_get(_get(document, "subject"), "identifier"), "value") != permit.patient_ssin:
            raise DownstreamProtocolError(
                "document is about another patient", system=self.name, operation=operation
            )

    def _ref(self, resource: dict[str, Any], permit: Permit) -> TransactionRef:
        self._check_subject(resource, permit, "search")
        try:
            codes = resource["type"]["coding"]
            code = next(c["code"] for c in codes if c.get("system") == KMEHR_TRANSACTION_SYSTEM)
            when = datetime.fromisoformat(resource["date"].replace("Z", "+00:00"))
            url, mime = _attachment(resource)
            # the Binary is read with Accept = its contentType, for which a TransactionRef has
            # no room: only KMEHR's usual type is read directly, others as before (two calls)
            direct = url if mime == KMEHR_MIME else None
            id_, author = str(resource["id"]), _author(resource)
            return TransactionRef(
                self.name, id_, str(code), when, author, _version(resource), direct
            )
        except (KeyError, StopIteration, TypeError, ValueError, AttributeError) as exc:
            raise DownstreamProtocolError(
                f"DocumentReference unusable: {type(exc).__name__}",
                system=self.name,
                operation="search",
            ) from exc

    async def get_transaction(self, permit: Permit, actor: Actor, ref: TransactionRef) -> bytes:
        """The KMEHR message behind one DocumentReference (its Binary, read raw): one call when
        the listing named the Binary, else the DocumentReference (subject checked), then it."""
        self._require(permit, "read-dossier")
        if ref.location is not None:
            return await self._binary(ref.location, KMEHR_MIME)
        document = await self._json(
            "GET", f"DocumentReference/{ref.transaction_id}", "read", idempotent=True
        )
        self._check_subject(document, permit, "read")
        url, mime = _attachment(document)
        if url is None:
            raise DownstreamProtocolError(
                "DocumentReference without attachment url", system=self.name, operation="read"
            )
        return await self._binary(url, mime)

    async def _binary(self, url: str, mime: str) -> bytes:
        # _send resolves a relative url against the FHIR base; an absolute one on it is made so
        path = url.removeprefix(self.config.base_url.rstrip("/") + "/")

        async def attempt() -> bytes:
            return (await self._send("GET", path, "binary", headers={"Accept": mime})).content

        return await self.resilience.call(attempt, operation="binary", idempotent=True)

    async def send_note(self, permit: Permit, actor: Actor, note: dict[str, Any]) -> str:
        """Create the note's DocumentReference; returns the id the GP system gave it."""
        self._require(permit, "write-note")
        identifier = (note.get("identifier") or [{}])[0]
        headers = {"Content-Type": FHIR_JSON}
        if identifier.get("system") and identifier.get("value"):
            headers["If-None-Exist"] = f"identifier={identifier['system']}|{identifier['value']}"
        created = await self._json(
            "POST", "DocumentReference", "create", idempotent=False, json=note, headers=headers
        )
        return str(created.get("id", ""))

    async def post_resource(
        self, path: str, resource: dict[str, Any], *, operation: str
    ) -> dict[str, Any]:
        """POST a FHIR resource (an operation or a create) and return the resource answered.
        Attempted once: a resend is the caller's (the outbox's), and the receiver de-duplicates
        on the resource's identifier. Used by the private insurers' claims API too."""
        headers = {"Content-Type": FHIR_JSON}
        return await self._json(
            "POST", path, operation, idempotent=False, json=resource, headers=headers
        )

    async def ping(self) -> None:
        """Readiness: the CapabilityStatement answers."""
        await self._json("GET", "metadata", "metadata", idempotent=True)


def _diagnostics(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    issues = body.get("issue", []) if isinstance(body, dict) else []
    return "; ".join(str(i.get("diagnostics", "")) for i in issues if isinstance(i, dict))


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _author(resource: dict[str, Any]) -> str | None:
    ids = [_get(a, "identifier") for a in resource.get("author", [])]
    return next((str(i["value"]) for i in ids if _get(i, "system") == NIHII_SYSTEM), None)


def _version(resource: dict[str, Any]) -> str | None:
    """meta.versionId (else lastUpdated), and the attachment's hash when given: a GP system
    that rewrites a Binary without a new DocumentReference version still changes the key."""
    meta = _get(resource, "meta")
    content = _get(resource, "content")
    digest = _get(
        _get(content[0] if isinstance(content, list) and content else None, "attachment"), "hash"
    )
    parts = [str(p) for p in (_get(meta, "versionId") or _get(meta, "lastUpdated"), digest) if p]
    return "#".join(parts) or None


def _attachment(resource: Any) -> tuple[str | None, str]:
    """(url or None, contentType) of a DocumentReference's first attachment."""
    content = _get(resource, "content")
    attachment = _get(content[0] if isinstance(content, list) and content else None, "attachment")
    url, mime = _get(attachment, "url"), _get(attachment, "contentType")
    return (str(url) if url else None), str(mime or KMEHR_MIME)
