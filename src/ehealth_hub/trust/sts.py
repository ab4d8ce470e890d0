"""eHealth Secure Token Service client: SAML 1.1 holder-of-key tokens per (practitioner, quality).

Contract: eHealth STS v1.1 (``sts_v1.wsdl``, operation ``RequestSecureToken``, SOAP 1.1). The
official contract carries a SAML 1.1 ``samlp:Request``/``samlp:AttributeQuery`` (not a WS-Trust
RST: eHealth's v1 STS predates its WS-Trust endpoint) whose Subject is the caller's certificate
(NameIdentifier = subject DN, NameQualifier = issuer DN, holder-of-key confirmation with the
certificate) and whose ``AttributeDesignator``s name the identity attributes
(``urn:be:fgov:ehealth:1.0:certificateholder:person:ssin``, ``urn:be:fgov:person:ssin``) and the
certified ones for the quality (doctor: ``urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11``,
``urn:be:fgov:person:ssin:doctor:boolean``; others from :data:`QUALITY_DESIGNATORS` or
configuration). The call is signed in WS-Security X.509 mode with the practitioner's eHealth
authentication certificate.

Simplification, stated: eHealth's request also carries, in ``SubjectConfirmationData``, a
self-asserted assertion repeating the identification attributes; the SSIN is taken from the signing
certificate by the STS anyway, so this client sends the designators only.

The answer's assertion is verified (STS signature against the truststore, Conditions, holder key
= our certificate, quality boolean certified "true") before it is cached. Tokens are cached per
(certificate thumbprint, quality) and reused while more than ``renew_at`` (default half) of their
lifetime remains; one request is in flight per key (an asyncio.Lock per key).

Public API (stable)::

    StsClient(soap: SoapClient, *, truststore, sts_certificates, clock, designators=...,
              renew_at=0.5, max_skew=timedelta(minutes=5), ids=None)
    await client.token(credential: Credential, quality: str) -> SamlToken   # cached
    QUALITY_DESIGNATORS: Mapping[str, tuple[tuple[str, str], ...]]           # (namespace, name)
    IDENTITY_DESIGNATORS: tuple[tuple[str, str], ...]
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import structlog
from cryptography import x509
from lxml import etree

from ehealth_hub.core.errors import BusinessRejection, TokenError
from ehealth_hub.core.xml import SAML11_NS, SAMLP11_NS
from ehealth_hub.transport.soap import SoapClient
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.saml import (
    CERTIFIED_NS,
    IDENTIFICATION_NS,
    SamlToken,
    _subject,
    verify_assertion,
)
from ehealth_hub.trust.wsse import use_credential

IDENTITY_DESIGNATORS: Final = (
    (IDENTIFICATION_NS, "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin"),
    (IDENTIFICATION_NS, "urn:be:fgov:person:ssin"),
)


def _profession(name: str) -> tuple[tuple[str, str], ...]:
    return (
        (CERTIFIED_NS, f"urn:be:fgov:person:ssin:ehealth:1.0:{name}:nihii11"),
        (CERTIFIED_NS, f"urn:be:fgov:person:ssin:{name}:boolean"),
    )


QUALITY_DESIGNATORS: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "doctor": _profession("doctor"),
    "nurse": _profession("nurse"),
    "physiotherapist": _profession("physiotherapist"),
    "clinical_psychologist": _profession("clinicalpsychologist"),
}
"""Certified designators per eHealth quality; the ``...:boolean`` one must come back ``true``."""
_log = structlog.get_logger(__name__)


def _random_id() -> str:
    return "_" + secrets.token_hex(16)


def build_request(
    holder: x509.Certificate, designators: Sequence[tuple[str, str]]
) -> etree._Element:
    """The ``samlp:AttributeQuery`` for ``holder`` asking for ``designators``."""
    query = etree.Element(
        f"{{{SAMLP11_NS}}}AttributeQuery", nsmap={"samlp": SAMLP11_NS, "saml": SAML11_NS}
    )
    query.append(_subject(holder))
    for namespace, name in designators:
        designator = etree.SubElement(query, f"{{{SAML11_NS}}}AttributeDesignator")
        designator.set("AttributeName", name)
        designator.set("AttributeNamespace", namespace)
    return query


class StsClient:
    """Obtains, verifies and caches SAML HoK tokens; see the module docstring."""

    def __init__(
        self,
        soap: SoapClient,
        *,
        truststore: Sequence[x509.Certificate],
        sts_certificates: Sequence[x509.Certificate],
        clock: Callable[[], datetime],
        designators: Mapping[str, tuple[tuple[str, str], ...]] = QUALITY_DESIGNATORS,
        renew_at: float = 0.5,
        max_skew: timedelta = timedelta(minutes=5),
        ids: Callable[[], str] = _random_id,
    ) -> None:
        self._soap, self._truststore, self._clock = soap, tuple(truststore), clock
        self._sts = tuple(sts_certificates)
        self._designators, self._renew_at, self._skew, self._ids = (
            designators,
            renew_at,
            max_skew,
            ids,
        )
        self._cache: dict[tuple[str, str], SamlToken] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def token(self, credential: Credential, quality: str) -> SamlToken:
        """A valid token for ``credential`` acting as ``quality``; cached, one fetch per key."""
        key = (credential.thumbprint, quality)
        cached = self._cache.get(key)
        if cached is not None and cached.remaining_fraction(self._clock()) > self._renew_at:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._cache.get(key)
            if cached is not None and cached.remaining_fraction(self._clock()) > self._renew_at:
                return cached
            token = await self._fetch(credential, quality)
            self._cache[key] = token
            return token

    def _designators_for(self, quality: str) -> tuple[tuple[str, str], ...]:
        try:
            return IDENTITY_DESIGNATORS + self._designators[quality]
        except KeyError:
            raise TokenError(
                f"no STS attributes configured for quality {quality!r}", system="sts"
            ) from None

    async def _fetch(self, credential: Credential, quality: str) -> SamlToken:
        designators = self._designators_for(quality)
        query = build_request(credential.certificate, designators)
        attrs = {"RequestID": self._ids(), "MajorVersion": "1", "MinorVersion": "1"}
        attrs["IssueInstant"] = self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        with use_credential(credential):
            answer = await self._soap.call("RequestSecureToken", _value_1=[query], _attr_1=attrs)
        assertion = _assertion_of(answer)
        verified = verify_assertion(
            assertion,
            trusted=self._truststore,
            sts=self._sts,
            now=self._clock(),
            max_skew=self._skew,
            holder=credential.certificate,
        )
        boolean = designators[-1][1]
        if verified.attributes.get(boolean) != ("true",):
            raise TokenError(
                f"STS did not certify the quality {quality!r}", system="sts", code="not-certified"
            )
        _log.info(
            "sts.token_issued",
            quality=quality,
            assertion_id=verified.assertion_id,
            until=verified.not_on_or_after.isoformat(),
        )
        return SamlToken(
            etree.tostring(assertion),
            verified.assertion_id,
            verified.not_before,
            verified.not_on_or_after,
            credential,
        )


def _assertion_of(answer: Any) -> etree._Element:
    children = [
        c for c in (getattr(answer, "_value_1", None) or []) if isinstance(c, etree._Element)
    ]
    status = next((c for c in children if c.tag == f"{{{SAMLP11_NS}}}Status"), None)
    code = status.find(f"{{{SAMLP11_NS}}}StatusCode") if status is not None else None
    value = code.get("Value", "") if code is not None else ""
    if not value.endswith("Success"):
        message = status.findtext(f"{{{SAMLP11_NS}}}StatusMessage") if status is not None else None
        raise BusinessRejection(
            f"STS refused: {value or 'no status'} {message or ''}".strip(),
            system="sts",
            operation="RequestSecureToken",
            code=value or None,
        )
    assertions = [c for c in children if c.tag == f"{{{SAML11_NS}}}Assertion"]
    if len(assertions) != 1:
        raise TokenError(
            "STS answer must hold exactly one assertion", system="sts", code="malformed"
        )
    return assertions[0]
