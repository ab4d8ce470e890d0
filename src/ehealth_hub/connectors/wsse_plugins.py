"""zeep plugins that apply WS-Security (OASIS WSS 1.0 SOAP Message Security, X.509 and SAML Token
Profiles 1.0) to every SOAP 1.1 call, plus the context managers that bind the signing identity.

The identity is bound per task through context variables rather than passed to the plugin because
one zeep client serves many concurrent callers, each with its own SAML token (or X.509 signer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Literal

from cryptography import x509
from lxml import etree
from zeep import Plugin

from ehealth_hub.connectors.credentials import Credential
from ehealth_hub.connectors.saml import SamlToken
from ehealth_hub.connectors.wsse_envelope import Clock
from ehealth_hub.connectors.wsse_sign import sign_envelope
from ehealth_hub.connectors.wsse_verify import verify_envelope
from ehealth_hub.errors import SignatureError

_TOKEN: ContextVar[SamlToken | None] = ContextVar("ehealth_hub_saml_token", default=None)
_CREDENTIAL: ContextVar[Credential | None] = ContextVar("ehealth_hub_x509", default=None)


@contextlib.contextmanager
def use_token(token: SamlToken) -> Iterator[SamlToken]:
    """Bind ``token`` to the current task: SAML-mode plugins sign with it until the block ends."""
    reset = _TOKEN.set(token)
    try:
        yield token
    finally:
        _TOKEN.reset(reset)


@contextlib.contextmanager
def use_credential(credential: Credential) -> Iterator[Credential]:
    """Bind ``credential`` to the current task for X.509-mode plugins built without one."""
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


class WsseSignPlugin(Plugin):
    """Signs every outgoing envelope.

    ``mode="x509"``: with ``credential``, or the one bound by :func:`use_credential`;
    ``mode="saml"``: with the token bound by :func:`use_token`. Nothing bound: SignatureError,
    nothing is sent.
    """

    def __init__(
        self,
        mode: Literal["x509", "saml"],
        credential: Credential | None = None,
        *,
        clock: Clock,
        ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self.mode, self.credential, self.clock, self.ttl = mode, credential, clock, ttl

    def egress(
        self,
        envelope: etree._Element,
        http_headers: dict[str, str],
        operation: Any,
        binding_options: Any,
    ) -> tuple[etree._Element, dict[str, str]]:
        if self.mode == "x509":
            credential = self.credential or _CREDENTIAL.get()
            if credential is None:
                raise SignatureError(
                    "no credential bound for this call", system="wsse", code="no-credential"
                )
            return sign_envelope(envelope, credential, ttl=self.ttl, now=self.clock()), http_headers
        token = bound_token()
        signed = sign_envelope(
            envelope, token.holder, assertion=token.assertion, ttl=self.ttl, now=self.clock()
        )
        return signed, http_headers


class WsseVerifyPlugin(Plugin):
    """Verifies every incoming envelope (services that sign their responses)."""

    def __init__(
        self,
        trusted: Sequence[x509.Certificate],
        *,
        clock: Clock,
        expected: Sequence[str] = ("Body", "Timestamp"),
        max_skew: timedelta = timedelta(minutes=5),
        sts: Sequence[x509.Certificate] = (),
    ) -> None:
        self.sts = tuple(sts)
        self.trusted = tuple(trusted)
        self.clock = clock
        self.expected = tuple(expected)
        self.max_skew = max_skew

    def ingress(
        self, envelope: etree._Element, http_headers: Any, operation: Any
    ) -> tuple[etree._Element, Any]:
        verify_envelope(
            envelope,
            trusted=self.trusted,
            sts=self.sts,
            expected=self.expected,
            max_skew=self.max_skew,
            now=self.clock(),
        )
        return envelope, http_headers
