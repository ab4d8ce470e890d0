"""SOAP 1.1 document/literal calls built and read with lxml directly, for the hot read path.

Spec: SOAP 1.1 (W3C Note, 2000) sections 4 (envelope), 4.4 (Fault) and 6 (HTTP binding:
``text/xml``, the ``SOAPAction`` header, HTTP 500 for a Fault); WS-Security as
:mod:`.wsse_sign` applies it (SAML holder-of-key: Body and Timestamp signed with the holder key).

Why not zeep here: on a ``Patient/$summary`` read the IntraHub calls dominate, and zeep spent
~1 ms CPU per call turning keyword arguments into XML and XML back into value objects - four
times the RSA signature the call needs (benchmarks/api.py, docs/benchmarks.md). The callers
(:mod:`.intrahub`) build their payload with :mod:`.hubservices_xml` and read the answer with
it, checking every part they use (a missing one is a
:class:`~ehealth_hub.core.errors.DownstreamProtocolError`), which zeep's strict schema mode
gave them.

What is kept from :mod:`.soap`: every response passes the hardened parser (no DTD, no entities,
size limit) before anything reads it, its signature is verified (``verifier``: an answer not
believed is :class:`~ehealth_hub.core.errors.UnverifiedAnswer`), and errors are translated with the
same table (:func:`~ehealth_hub.connectors.soap.translate` for httpx,
:func:`~.soap.fault_error` for Faults, :func:`~.soap.status_error` for HTTP statuses).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import httpx
from lxml import etree

from ehealth_hub.connectors.network import DirectPost
from ehealth_hub.connectors.soap import fault_error, status_error, translate
from ehealth_hub.connectors.wsse_dsig import rsa_sign
from ehealth_hub.connectors.wsse_envelope import Clock
from ehealth_hub.connectors.wsse_plugins import WsseVerifyPlugin, bound_token
from ehealth_hub.connectors.wsse_sign import prepare_envelope, serialize_spliced
from ehealth_hub.core.errors import DownstreamProtocolError, HubError, MappingError
from ehealth_hub.core.xml import SOAP11_NS, parse_xml

_ENVELOPE: Final = f"{{{SOAP11_NS}}}Envelope"
_BODY: Final = f"{{{SOAP11_NS}}}Body"
_FAULT: Final = f"{{{SOAP11_NS}}}Fault"
_HTTPX_ERRORS: Final = (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)


@dataclass(frozen=True, slots=True)
class LeanSoapClient:
    """One SOAP endpoint, called with an lxml payload and answering the Body's first element.

    Same calling convention as :class:`~ehealth_hub.connectors.soap.SoapClient`, so that
    :class:`~ehealth_hub.connectors.resilience.ProtectedSoap` binds the actor's SAML token and
    applies timeout, retries and breaker to either.
    """

    endpoint: DirectPost
    """Where the calls go (the transport is owned and closed by the caller's client)."""
    actions: Mapping[str, str]
    """Operation name -> SOAPAction, as the WSDL binding gives them."""
    system: str
    """The downstream system's name in errors and logs."""
    clock: Clock
    """Signing time (the Timestamp)."""
    ttl: timedelta = timedelta(minutes=5)
    """Life of the signed Timestamp."""
    verifier: WsseVerifyPlugin | None = None
    """Checks the answer's signature (hubs sign theirs); None only where no answer is signed."""

    async def call(self, operation: str, *, payload: etree._Element) -> etree._Element:
        """Sign ``payload`` in an envelope with the bound token, post it, return the answer."""
        data = await self._signed(payload)
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{self.actions.get(operation, "")}"',
        }
        try:
            response = await self.endpoint.post(data, headers)
        except _HTTPX_ERRORS as exc:
            raise translate(exc, system=self.system, operation=operation) from exc
        return self.answer(response, operation)

    async def _signed(self, payload: etree._Element) -> bytes:
        """The envelope, signed with the bound token's holder key; the RSA operation runs in a
        worker thread (it releases the GIL): ~0.25 ms a call the event loop need not wait. The
        assertion is spliced into the serialised envelope as issued (the signature does not
        cover it), not copied into the tree."""
        token = bound_token()
        envelope = etree.Element(_ENVELOPE, nsmap={"soapenv": SOAP11_NS})
        etree.SubElement(envelope, _BODY).append(payload)
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
