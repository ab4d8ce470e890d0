"""The hub's one SOAP client: SOAP 1.1 document/literal calls built and read with lxml, for every
service (eHealth, the regional hubs, the STS, the ETK depot, MyCareNet).

Spec: SOAP 1.1 (W3C Note, 2000) sections 4 (envelope), 4.4 (Fault) and 6 (HTTP binding:
``text/xml``, the ``SOAPAction`` header, HTTP 500 for a Fault). What the client is given, and what
stays outside it:

* how the Body's payload is built and its answer read (:class:`Messages`): :class:`LxmlMessages`
  hands lxml elements through (the IntraHub connector builds and reads its own with
  ``connectors/hubservices_xml.py``: the hot read path, where a schema-driven codec spent ~1 ms
  CPU per call, four times the call's RSA signature); :class:`~.wsdl.WsdlMessages` builds and
  reads them from the service's WSDL (zeep as a codec: the other services' connectors speak in
  its value objects);
* WS-Security: the request envelope is signed by the ``sign`` it is given (the trust layer's
  SAML holder-of-key or X.509 signer, or none for the ETK depot) and a signed answer is checked
  by its ``verifier`` (an answer not believed is
  :class:`~ehealth_hub.errors.UnverifiedAnswer`), both from :mod:`ehealth_hub.trust`;
* the exchange: one POST through :mod:`.network`'s path (:class:`Endpoint`).

Every answer passes the hardened parser (no DTD, no entities, size limit) before anything reads
it. Errors: httpx's as :func:`~.http_errors.translate_http` says, HTTP statuses as
:func:`~.http_errors.status_error` says, Faults as :func:`fault_error` says; a HubError raised by
a signer, verifier or codec passes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx
from lxml import etree

from ehealth_hub.core.errors import (
    BusinessRejection,
    DownstreamProtocolError,
    HubError,
    MappingError,
)
from ehealth_hub.core.xml import SOAP11_NS, parse_xml
from ehealth_hub.transport.http_errors import HTTPX_ERRORS, status_error, translate_http

_ENVELOPE: Final = f"{{{SOAP11_NS}}}Envelope"
_BODY: Final = f"{{{SOAP11_NS}}}Body"
_FAULT: Final = f"{{{SOAP11_NS}}}Fault"


class Endpoint(Protocol):
    """Where a SOAP endpoint's requests go (:class:`~.network.DirectPost`, :class:`ClientPost`)."""

    async def post(self, content: bytes, headers: Mapping[str, str]) -> httpx.Response: ...


class EnvelopeSigner(Protocol):
    """Signs an envelope for sending (WS-Security, :mod:`ehealth_hub.trust`): the bytes to post."""

    async def __call__(self, envelope: etree._Element) -> bytes: ...


class AnswerPolicy(Protocol):
    """Decides whether a signed answer is believed; raises (a HubError) when it is not."""

    def check(self, envelope: etree._Element, operation: str = "") -> object: ...


class Messages(Protocol):
    """Builds an operation's Body payload and reads its answer."""

    def encode(self, operation: str, parts: Mapping[str, Any]) -> tuple[etree._Element, str]:
        """The payload element and the SOAPAction of ``operation`` called with ``parts``."""
        ...

    def decode(self, operation: str, envelope: etree._Element, payload: etree._Element) -> Any:
        """What the caller gets from an answer (``payload``: the Body's first element)."""
        ...


@dataclass(frozen=True, slots=True)
class LxmlMessages:
    """Payloads built and read by the caller: ``call(operation, payload=element)`` answers the
    answer's Body element."""

    actions: Mapping[str, str]
    """Operation name -> SOAPAction, as the WSDL binding gives them."""

    def encode(self, operation: str, parts: Mapping[str, Any]) -> tuple[etree._Element, str]:
        payload = parts["payload"]
        if not isinstance(payload, etree._Element) or len(parts) != 1:
            raise TypeError("LxmlMessages takes exactly one lxml element: payload=...")
        return payload, self.actions.get(operation, "")

    def decode(
        self, operation: str, envelope: etree._Element, payload: etree._Element
    ) -> etree._Element:
        return payload


@dataclass(frozen=True, slots=True)
class ClientPost:
    """POSTs to one endpoint through an ``httpx.AsyncClient`` (the STS, the ETK depot and
    MyCareNet are given their world's client)."""

    client: httpx.AsyncClient
    """The client (owned and closed by the caller)."""
    url: str
    """The endpoint."""

    async def post(self, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """Send ``content``; the answer, read."""
        return await self.client.post(self.url, content=content, headers=headers)


@dataclass(frozen=True, slots=True)
class SoapClient:
    """One SOAP endpoint; ``call(operation, **parts)`` answers what ``messages`` reads."""

    endpoint: Endpoint
    """Where the calls go (the transport is owned and closed by the caller's client)."""
    messages: Messages
    """Builds the payloads and reads the answers."""
    system: str
    """The downstream system's name in errors and logs."""
    sign: EnvelopeSigner | None = None
    """Signs each request envelope; None only where requests go unsigned (the ETK depot)."""
    verifier: AnswerPolicy | None = None
    """Checks the answer's signature; None only where no answer is signed."""

    async def call(self, operation: str, **parts: Any) -> Any:
        """Build, sign and post ``operation``; the answer as ``messages`` reads it."""
        payload, action = self.messages.encode(operation, parts)
        envelope = etree.Element(_ENVELOPE, nsmap={"soapenv": SOAP11_NS})
        etree.SubElement(envelope, _BODY).append(payload)
        data = await self.sign(envelope) if self.sign is not None else etree.tostring(envelope)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        try:
            response = await self.endpoint.post(data, headers)
        except HTTPX_ERRORS as exc:
            raise translate_http(exc, system=self.system, operation=operation) from exc
        root, answer = self.answer(response, operation)
        return self.messages.decode(operation, root, answer)

    def answer(
        self, response: httpx.Response, operation: str
    ) -> tuple[etree._Element, etree._Element]:
        """The answer's envelope and its Body's first element; a Fault, a failed exchange or an
        answer not believed as HubError."""
        content_type = response.headers.get("content-type", "")
        if not response.content or "xml" not in content_type:
            if response.status_code != 200:
                raise status_error(response.status_code, system=self.system, operation=operation)
            raise self._protocol(
                f"answer is not XML ({content_type or 'no content type'})", operation
            )
        root = self._parsed(response.content, operation)
        found = root.find(_BODY) if root.tag == _ENVELOPE else None
        payload = next(found.iterchildren(etree.Element), None) if found is not None else None
        if payload is None:
            raise self._protocol("answer has no SOAP Body element", operation)
        if payload.tag == _FAULT:
            raise _fault(payload, system=self.system, operation=operation)
        if response.status_code != 200:
            raise status_error(response.status_code, system=self.system, operation=operation)
        if self.verifier is not None:
            self.verifier.check(root, operation)
        return root, payload

    def _parsed(self, content: bytes, operation: str) -> etree._Element:
        try:
            return parse_xml(content)
        except MappingError as exc:
            raise self._protocol(f"malformed XML response: {exc.detail}", operation) from exc

    def _protocol(self, detail: str, operation: str) -> DownstreamProtocolError:
        return DownstreamProtocolError(detail, system=self.system, operation=operation)


def _fault(fault: etree._Element, *, system: str, operation: str) -> HubError:
    faultcode = (fault.findtext("faultcode") or "").strip()
    message = (fault.findtext("faultstring") or "").strip()
    detail = fault.find("detail")
    code = None
    if detail is not None:
        code = detail.findtext(".//{*}Code") or detail.findtext(".//Code")
    return fault_error(faultcode, message, code, system=system, operation=operation)


def fault_error(
    faultcode: str, message: str, detail_code: str | None, *, system: str, operation: str
) -> HubError:
    """The HubError for a SOAP 1.1 Fault (``faultcode``, ``faultstring``, an eHealth ``Code``
    in ``detail``): ``*Client`` is a BusinessRejection (code = the eHealth code or the
    faultcode), any other a DownstreamProtocolError, retryable for ``*Server``."""
    code = detail_code or faultcode
    detail = f"SOAP fault {faultcode}: {message}"
    if faultcode.endswith("Client"):
        return BusinessRejection(detail, system=system, operation=operation, code=code)
    retry = faultcode.endswith("Server")
    return DownstreamProtocolError(
        detail, system=system, operation=operation, code=code, retryable=retry
    )
