"""WS-Security for SOAP 1.1 as eHealth uses it (OASIS WSS 1.0 SOAP Message Security, X.509 Token
Profile 1.0, SAML Token Profile 1.0; XML-DSig with exclusive c14n, RSA-SHA256 by default).

Two modes, both via :func:`sign_envelope`:

* **X.509** (calls to the STS): ``wsse:Security`` holds a ``wsu:Timestamp`` (Created/Expires = now
  + ttl), a ``wsse:BinarySecurityToken`` with the caller's certificate, and a ``ds:Signature`` whose
  references are the Body, the Timestamp and the BinarySecurityToken; KeyInfo is a
  ``wsse:SecurityTokenReference/wsse:Reference`` to the token.
* **SAML holder-of-key** (business calls): the STS assertion is placed in the header as issued,
  the signature covers Body and Timestamp with the holder key, and KeyInfo is a
  ``SecurityTokenReference/KeyIdentifier`` (ValueType ``...#SAMLAssertionID``) naming the assertion.

:func:`verify_envelope` refuses, with :class:`~ehealth_hub.core.errors.SignatureError` (or
``TokenError`` for the assertion): a missing or second signature, a reference to anything other
than the envelope's own Body, the Security header's Timestamp or its BinarySecurityToken (signature
wrapping), duplicated Ids, a required part left unsigned, an untrusted or expired certificate, a
stale Timestamp (``max_skew`` each side), a digest or signature mismatch.

Public API (stable)::

    sign_envelope(envelope, credential, *, assertion=None, ttl=timedelta(minutes=5), now, ids=None)
        -> etree._Element                        # signs in place and returns the envelope
    verify_envelope(envelope, *, trusted, sts=(), expected=("Body", "Timestamp"),
                    max_skew=timedelta(minutes=5), now, signatures=None) -> VerifiedEnvelope
    SamlSigner(clock, ttl) ; X509Signer(clock, ttl, credential=None)
        # envelope signers of the SOAP client: await signer(envelope) -> bytes to post
    use_credential(credential) -> context manager         # binds the X.509 signer for this task
    WsseAnswerPolicy(trusted, *, clock, expected, max_skew, sts=(), signer=None, system="wsse")
        # verifies signed responses; .check(envelope) -> VerifiedEnvelope | None (None: a Fault);
        # an answer not believed raises UnverifiedAnswer (a DownstreamUnavailable: 503, outage)
    ExpectedSigner(kind, value)                           # "CBE"/"EHP" + id: who signs answers
    use_token(token: SamlToken) -> context manager        # binds the HoK token for this task

This module is the stable facade; the code lives in :mod:`.wsse_sign` (signing), :mod:`.wsse_dsig`
(the ds:Signature built over the elements in hand), :mod:`.wsse_verify` (verification; the
cryptographic check is the one verifier of :mod:`.dsig_verify`), :mod:`.wsse_calls` (the SOAP
client's signers and verifier, and the per-task identity) and :mod:`.wsse_envelope` (shared
ValueTypes and the envelope shape check).
"""

from ehealth_hub.trust.wsse_calls import (
    ExpectedSigner,
    SamlSigner,
    WsseAnswerPolicy,
    X509Signer,
    use_credential,
    use_token,
)
from ehealth_hub.trust.wsse_sign import sign_envelope
from ehealth_hub.trust.wsse_verify import VerifiedEnvelope, verify_envelope

__all__ = [
    "ExpectedSigner",
    "SamlSigner",
    "VerifiedEnvelope",
    "WsseAnswerPolicy",
    "X509Signer",
    "sign_envelope",
    "use_credential",
    "use_token",
    "verify_envelope",
]
