"""WS-Security on the hub's SOAP calls (OASIS WSS 1.0 SOAP Message Security, X.509 and SAML Token
Profiles 1.0): the envelope signers the SOAP client is given (:class:`SamlSigner` for business
calls, :class:`X509Signer` for the STS), the policy for signed answers (:class:`WsseAnswerPolicy`),
and the context managers that bind the signing identity.

The identity is bound per task through context variables rather than given to the signer because
one client serves many concurrent callers, each with its own SAML token (or X.509 credential).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from ehealth_hub.core.errors import SecurityError, SignatureError, UnverifiedAnswer
from ehealth_hub.core.xml import SOAP11_NS
from ehealth_hub.trust.credentials import Credential
from ehealth_hub.trust.saml import SamlToken
from ehealth_hub.trust.wsse_dsig import rsa_sign
from ehealth_hub.trust.wsse_envelope import Clock
from ehealth_hub.trust.wsse_sign import prepare_envelope, serialize_spliced, sign_envelope
from ehealth_hub.trust.wsse_verify import VerifiedEnvelope, verify_envelope

_BODY: Final = f"{{{SOAP11_NS}}}Body"
_FAULT: Final = f"{{{SOAP11_NS}}}Fault"
_TOKEN: ContextVar[SamlToken | None] = ContextVar("ehealth_hub_saml_token", default=None)
_CREDENTIAL: ContextVar[Credential | None] = ContextVar("ehealth_hub_x509", default=None)


@contextlib.contextmanager
def use_token(token: SamlToken) -> Iterator[SamlToken]:
    """Bind ``token`` to the current task: a :class:`SamlSigner` signs with it until the end."""
    reset = _TOKEN.set(token)
    try:
        yield token
    finally:
        _TOKEN.reset(reset)


@contextlib.contextmanager
def use_credential(credential: Credential) -> Iterator[Credential]:
    r"""Bind ``credential`` to the current task for :class:`X509Signer`\ s built without one."""
    reset = _CREDENTIAL.set(credential)
    try:
        yield credential
    finally:
        _CREDENTIAL.reset(reset)


def bound_token() -> SamlToken:
    """The token bound by :func:`use_token`; SignatureError when none is (nothing is sent)."""
    token = _TOKEN.get()
    if token is None:
        raise SignatureError(
            "no SAML token bound for this call (use wsse.use_token)",
            system="wsse",
            code="no-token",
        )
    return token


@dataclass(frozen=True, slots=True)
class SamlSigner:
    """Signs an envelope with the token bound by :func:`use_token` (SAML holder-of-key): the
    envelope signer of business calls (:class:`~ehealth_hub.transport.soap.SoapClient`)."""

    clock: Clock
    """Signing time (the Timestamp)."""
    ttl: timedelta = timedelta(minutes=5)
    """Life of the signed Timestamp."""

    async def __call__(self, envelope: etree._Element) -> bytes:
        """The signed envelope, serialised. The RSA operation runs in a worker thread (it
        releases the GIL): ~0.25 ms a call the event loop need not wait. The assertion is spliced
        into the serialised envelope as issued (the signature does not cover it), not copied into
        the tree."""
        token = bound_token()
        unsigned = prepare_envelope(
            envelope,
            token.holder,
            assertion=token.assertion,
            ttl=self.ttl,
            now=self.clock(),
            splice=True,
        )
        key = token.holder.private_key
        loop = asyncio.get_running_loop()
        unsigned.complete(await loop.run_in_executor(None, rsa_sign, key, unsigned.data))
        return serialize_spliced(envelope, token.assertion)


@dataclass(frozen=True, slots=True)
class X509Signer:
    """Signs an envelope in X.509 mode (the STS calls): with ``credential``, or the one bound by
    :func:`use_credential`; none: SignatureError, nothing is sent."""

    clock: Clock
    """Signing time (the Timestamp)."""
    ttl: timedelta = timedelta(minutes=5)
    """Life of the signed Timestamp."""
    credential: Credential | None = None
    """The signer; None: the credential bound for the call."""

    async def __call__(self, envelope: etree._Element) -> bytes:
        """The signed envelope, serialised."""
        credential = self.credential or _CREDENTIAL.get()
        if credential is None:
            raise SignatureError(
                "no credential bound for this call", system="wsse", code="no-credential"
            )
        signed = sign_envelope(envelope, credential, ttl=self.ttl, now=self.clock())
        return etree.tostring(signed)


def _is_fault(envelope: etree._Element) -> bool:
    body = envelope.find(_BODY)
    first = next(body.iterchildren(etree.Element), None) if body is not None else None
    return first is not None and first.tag == _FAULT


@dataclass(frozen=True, slots=True)
class ExpectedSigner:
    """Who must have signed an answer: the certificate's CN names this organisation, as eHealth
    subjects do (``CN=CBE=0809394427, ...`` for eHealth, ``CN=EHP=1990000035`` for a hub)."""

    kind: str
    """Identifier type in the CN: ``CBE`` (an organisation), ``EHP`` (a hub)."""
    value: str
    """The identifier itself."""

    def matches(self, certificate: x509.Certificate) -> bool:
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        first = str(names[0].value).split(",")[0].strip() if len(names) == 1 else ""
        return bool(self.value) and first == f"{self.kind}={self.value}"


class WsseAnswerPolicy:
    """Decides whether an incoming envelope is believed (services that sign their responses):
    the XML signature itself is checked by the one verifier,
    :class:`~ehealth_hub.trust.dsig_verify.XmlSignatureVerifier`; this policy adds who must have
    signed, which parts, and how fresh.

    An answer that is unsigned, badly signed, stale, untrusted or signed by anyone but
    ``signer`` raises :class:`~ehealth_hub.core.errors.UnverifiedAnswer`: it is not believed and the
    source counts as unavailable. SOAP faults are not verified: they are errors, never answers.
    """

    def __init__(
        self,
        trusted: Sequence[x509.Certificate],
        *,
        clock: Clock,
        expected: Sequence[str] = ("Body", "Timestamp"),
        max_skew: timedelta = timedelta(minutes=5),
        sts: Sequence[x509.Certificate] = (),
        signer: ExpectedSigner | None = None,
        system: str = "wsse",
    ) -> None:
        self.sts = tuple(sts)
        self.trusted = tuple(trusted)
        self.clock = clock
        self.expected = tuple(expected)
        self.max_skew = max_skew
        self.signer, self.system = signer, system

    def check(self, envelope: etree._Element, operation: str = "") -> VerifiedEnvelope | None:
        """Verify ``envelope`` (an answer); UnverifiedAnswer says why it is not believed.

        None for a SOAP Fault, which is left to the caller's error translation.
        """
        if _is_fault(envelope):
            return None
        try:
            verified = verify_envelope(
                envelope,
                trusted=self.trusted,
                sts=self.sts,
                expected=self.expected,
                max_skew=self.max_skew,
                now=self.clock(),
            )
        except SecurityError as exc:
            raise UnverifiedAnswer(
                f"answer not believed: {exc.detail}",
                system=self.system,
                operation=operation,
                code=exc.code or "unverified",
            ) from exc
        if self.signer is not None and not self.signer.matches(verified.signer):
            raise UnverifiedAnswer(
                f"answer signed by {verified.signer.subject.rfc4514_string()!r}, "
                f"not {self.signer.kind}={self.signer.value}",
                system=self.system,
                operation=operation,
                code="unexpected-signer",
            )
        return verified
