"""SOAP 1.1 document/literal calls built and read with lxml directly, for the hot read path.

Spec: SOAP 1.1 (W3C Note, 2000) sections 4 (envelope), 4.4 (Fault) and 6 (HTTP binding:
``text/xml``, the ``SOAPAction`` header, HTTP 500 for a Fault); WS-Security applied by the
signer the trust layer hands over (:class:`~ehealth_hub.trust.wsse_plugins.SamlSigner`: SAML
holder-of-key, Body and Timestamp signed with the holder key).

Why not zeep here: on a ``Patient/$summary`` read the IntraHub calls dominate, and zeep spent
~1 ms CPU per call turning keyword arguments into XML and XML back into value objects - four
times the RSA signature the call needs (benchmarks/api.py, docs/benchmarks.md). The callers
(``connectors/intrahub.py``) build their payload with ``connectors/hubservices_xml.py`` and read
the answer with it, checking every part they use (a missing one is a
:class:`~ehealth_hub.errors.DownstreamProtocolError`), which zeep's strict schema mode gave them.

What is kept from :mod:`.soap`: every response passes the hardened parser (no DTD, no entities,
size limit) before anything reads it, its signature is verified (``verifier``: an answer not
believed is :class:`~ehealth_hub.errors.UnverifiedAnswer`), and errors are translated with the
same tables (:func:`~.http_errors.translate_http` for httpx, :func:`~.soap.fault_error` for
Faults, :func:`~.http_errors.status_error` for HTTP statuses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

import httpx
from lxml import etree

from ehealth_hub.errors import DownstreamProtocolError, HubError, MappingError
from ehealth_hub.mappings.xml import SOAP11_NS, parse_xml
from ehealth_hub.transport.http_errors import HTTPX_ERRORS, status_error, translate_http
from ehealth_hub.transport.network import DirectPost
from ehealth_hub.transport.soap import fault_error

_ENVELOPE: Final = f"{{{SOAP11_NS}}}Envelope"
_BODY: Final = f"{{{SOAP11_NS}}}Body"
_FAULT: Final = f"{{{SOAP11_NS}}}Fault"


class EnvelopeSigner(Protocol):
    """Signs an envelope for sending (WS-Security, :mod:`ehealth_hub.trust`): the bytes to post."""

    async def __call__(self, envelope: etree._Element) -> bytes: ...


class AnswerVerifier(Protocol):
    """Decides whether a signed answer is believed; raises (a HubError) when it is not."""

    def check(self, envelope: etree._Element, operation: str = "") -> object: ...


@dataclass(frozen=True, slots=True)
class LeanSoapClient:
    """One SOAP endpoint, called with an lxml payload and answering the Body's first element.

    Same calling convention as :class:`~ehealth_hub.transport.soap.SoapClient`, so that
    :class:`~ehealth_hub.trust.protected.ProtectedSoap` binds the actor's SAML token and
    applies timeout, retries and breaker to either.
    """

    endpoint: DirectPost
    """Where the calls go (the transport is owned and closed by the caller's client)."""
    actions: Mapping[str, str]
    """Operation name -> SOAPAction, as the WSDL binding gives them."""
    system: str
    """The downstream system's name in errors and logs."""
    sign: EnvelopeSigner
    """Signs each request envelope (the trust layer's, with the token bound for the call)."""
    verifier: AnswerVerifier | None = None
    """Checks the answer's signature (hubs sign theirs); None only where no answer is signed."""

    async def call(self, operation: str, *, payload: etree._Element) -> etree._Element:
        """Sign ``payload`` in an envelope, post it, return the answer."""
        envelope = etree.Element(_ENVELOPE, nsmap={"soapenv": SOAP11_NS})
        etree.SubElement(envelope, _BODY).append(payload)
        data = await self.sign(envelope)
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{self.actions.get(operation, "")}"',
        }
        try:
            response = await self.endpoint.post(data, headers)
        except HTTPX_ERRORS as exc:
            raise translate_http(exc, system=self.system, operation=operation) from exc
        return self.answer(response, operation)

    def answer(self, response: httpx.Response, operation: str) -> etree._Element:
        """The first element of the answer's Body; a Fault or a failed exchange as HubError."""
        content_type = response.headers.get("content-type", "")
        if not response.content or "xml" not in content_type:
            if response.status_code != 200:
                raise status_error(response.status_code, system=self.system, operation=operation)
            raise self._protocol(
                f"answer is not XML ({content_type or 'no content type'})", operation
            )
        try:
            root = parse_xml(response.content)
        except HubError as exc:
            if isinstance(exc, MappingError):
                raise self._protocol(f"malformed XML response: {exc.detail}", operation) from exc
            raise
        found = root.find(_BODY) if root.tag == _ENVELOPE else None
        payload = next(iter(found), None) if found is not None else None
        if payload is None:
            raise self._protocol("answer has no SOAP Body element", operation)
        if payload.tag == _FAULT:
            raise self._fault(payload, operation)
        if response.status_code != 200:
            raise status_error(response.status_code, system=self.system, operation=operation)
        if self.verifier is not None:
            self.verifier.check(root, operation)
        return payload

    def _fault(self, fault: etree._Element, operation: str) -> HubError:
        faultcode = (fault.findtext("faultcode") or "").strip()
        message = (fault.findtext("faultstring") or "").strip()
        detail = fault.find("detail")
        code = None
        if detail is not None:
            code = detail.findtext(".//{*}Code") or detail.findtext(".//Code")
        return fault_error(faultcode, message, code, system=self.system, operation=operation)

    def _protocol(self, detail: str, operation: str) -> DownstreamProtocolError:
        return DownstreamProtocolError(detail, system=self.system, operation=operation)
