"""The one exception tree of ehealth-hub.

Every error the hub raises on purpose is a :class:`HubError`. Foreign exceptions (zeep, httpx,
lxml, SQLAlchemy, cryptography) are translated into one of these at the adapter boundary, in one
place per library; HTTP status codes are chosen only in ``api/``::

    HubError                      system, operation, detail, retryable
    ├── ConfigurationError        settings are invalid or unsafe for the environment
    ├── InvalidInput              a caller sent something the hub refuses (names field and rule)
    │   ├── IdentifierError       an SSIN, NIHII or CBE fails its format or check digits
    │   │   └── IdentifierCheckError  well-formed (ASCII digits, length) but the check digits fail
    │   ├── RuleViolation         well-formed, but breaks a FHIR rule, a profile or a business rule
    │   └── MappingError          KMEHR/FHIR/MyCareNet content cannot be translated faithfully
    ├── SecurityError             a trust check failed; nothing is sent or accepted
    │   ├── HostileXmlError       XML with a DTD, entities, or over the size limit
    │   ├── SignatureError        a signature is missing, invalid, wrapped or from an untrusted key
    │   ├── TokenError            a SAML assertion is forged, expired or bound to another key
    │   └── EncryptionError       sealing/unsealing failed (unknown recipient, bad envelope)
    ├── AuthenticationError       an API client could not prove who it is
    ├── AuthorizationError        an authenticated client lacks the scope for the request
    ├── ConsentDenied             the consent gate denied the access (carries the reasons)
    │   └── ConsentUnavailable    it failed closed only because a source was unreachable (retried)
    ├── NotFound                  the requested resource does not exist
    ├── Conflict                  the request contradicts stored state (idempotency key, version)
    │   └── PreconditionFailed    a condition of the request (If-Match, If-None-Exist) does not hold
    ├── DownstreamError           a downstream system did not do what was asked
    │   ├── DownstreamUnavailable transport failure, timeout, 5xx, throttling, or circuit open
    │   │   └── UnverifiedAnswer  answer unsigned, badly signed, stale or not the service's
    │   ├── DownstreamProtocolError  malformed, unsigned or unexpected response; SOAP fault
    │   └── BusinessRejection     the downstream understood and refused (never retried)
    └── StorageError              the database failed

``retryable`` tells the delivery layer whether trying again later may succeed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class HubError(Exception):
    """Raised when: anything the hub refuses or cannot do; the root of the tree."""

    retryable: bool = False

    def __init__(
        self,
        detail: str,
        *,
        system: str = "hub",
        operation: str = "",
        retryable: bool | None = None,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.system = system
        self.operation = operation
        self.code = code
        self.extra: dict[str, Any] = dict(extra or {})
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        where = f"{self.system}.{self.operation}" if self.operation else self.system
        return f"[{where}] {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        """A structured, log-safe view (callers must already have masked personal data)."""
        return {
            "error": type(self).__name__,
            "system": self.system,
            "operation": self.operation,
            "detail": self.detail,
            "code": self.code,
            "retryable": self.retryable,
            **self.extra,
        }


class ConfigurationError(HubError):
    """Raised when: settings are invalid, or unsafe for the chosen environment."""


class InvalidInput(HubError):
    """Raised when: a caller sent input the hub refuses; names the field (path) and the rule."""

    def __init__(self, detail: str, *, field: str = "", rule: str = "", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.field = field
        self.rule = rule


class IdentifierError(InvalidInput):
    """Raised when: an SSIN, NIHII or CBE fails its format or check-digit rule."""


class IdentifierCheckError(IdentifierError):
    """Raised when: a well-formed SSIN, NIHII or CBE fails its check digits (so it is no one's)."""


class RuleViolation(InvalidInput):
    """Raised when: the input is well-formed (JSON, a resource, the right syntax) but breaks a FHIR
    rule, a profile or a business rule (the caller must change what it sends, not how)."""


class MappingError(InvalidInput):
    """Raised when: KMEHR, FHIR or MyCareNet content cannot be translated without loss."""


class SecurityError(HubError):
    """Raised when: a trust check fails; nothing is sent or accepted."""


class HostileXmlError(SecurityError):
    """Raised when: XML carries a DTD or entity declarations, or exceeds the size limit."""


class SignatureError(SecurityError):
    """Raised when: a signature is missing, invalid, wrapped, stale or from an untrusted key."""


class TokenError(SecurityError):
    """Raised when: a SAML assertion is forged, expired, or bound to another holder key."""


class EncryptionError(SecurityError):
    """Raised when: sealing or unsealing fails (unknown recipient, tampered or foreign envelope)."""


class AuthenticationError(HubError):
    """Raised when: an API client cannot prove who it is (bad or expired credentials)."""


class AuthorizationError(HubError):
    """Raised when: an authenticated client lacks the scope or role for the request."""


class ConsentDenied(HubError):
    """Raised when: the consent gate denies an access; ``reasons`` say which source decided."""

    def __init__(self, detail: str, *, reasons: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.reasons = tuple(reasons)


class ConsentUnavailable(ConsentDenied):
    """Raised when: the gate failed closed only because a source could not be consulted.

    Nothing refused the access: every denial reason is an unreachable or timed-out source. Still
    a ConsentDenied (nothing is allowed while a source is down), but retryable: the delivery
    workers retry it with the destination's backoff and the API answers 503 with Retry-After.
    """

    retryable = True


class NotFound(HubError):
    """Raised when: the requested resource or record does not exist."""


class Conflict(HubError):
    """Raised when: a request contradicts stored state (reused idempotency key, stale version)."""


class PreconditionFailed(Conflict):
    """Raised when: a condition the request set does not hold (a stale ``If-Match`` version,
    an ``If-None-Exist`` query matching more than one resource)."""


class DownstreamError(HubError):
    """Raised when: a downstream system did not do what was asked."""

    retryable = True


class DownstreamUnavailable(DownstreamError):
    """Raised when: transport failure, timeout, HTTP 5xx, throttling, or an open circuit."""

    retryable = True


class UnverifiedAnswer(DownstreamUnavailable):
    """Raised when: a signed answer arrives unsigned, badly signed, stale or signed by someone
    other than the expected service; it is not believed, so the source counts as unavailable
    (503 at the API, an outage for the consent gate: never a decision)."""


class DownstreamProtocolError(DownstreamError):
    """Raised when: a response is malformed, unsigned or unexpected, or a SOAP fault arrives."""

    retryable = False


class BusinessRejection(DownstreamError):
    """Raised when: the downstream understood the request and refused it; never retried."""

    retryable = False


class StorageError(HubError):
    """Raised when: the database fails or refuses a write."""

    retryable = True
