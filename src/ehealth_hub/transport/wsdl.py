"""Services described by a WSDL: their payloads built and read by zeep, as a codec for the one
SOAP client (:class:`~.soap.SoapClient`), and the ONE place where zeep's exceptions become
:class:`~ehealth_hub.errors.HubError` subclasses.

zeep here only turns keyword arguments into the Body's payload (``operation.create``) and an
answer envelope into value objects (``operation.process_reply``), with the schema checked
strictly; it sends nothing and parses no bytes: the client posts, verifies and has every answer
parsed by the hardened parser first. WSDLs are the project's own (``ehealth_hub/connectors/wsdl``,
:func:`wsdl_path`) or a configured path; they are read from disk, never fetched.

Translation (:func:`translate`)::

    zeep Fault, faultcode *Client       -> BusinessRejection (code = eHealth code or faultcode)
    zeep Fault, other faultcodes         -> DownstreamProtocolError (retryable for *Server)
    zeep TransportError 5xx/429/408      -> DownstreamUnavailable
    zeep TransportError, other status    -> DownstreamProtocolError
    zeep XML/parse/lookup/unexpected     -> DownstreamProtocolError
    zeep ValidationError                 -> InvalidInput (field = zeep's path, rule soap.schema)
    zeep DTD/entities/external forbidden -> HostileXmlError
    zeep SignatureVerificationFailed     -> SignatureError
    zeep WsdlSyntaxError                 -> ConfigurationError
    httpx errors                         -> as transport.http_errors.translate_http says

Public API (stable)::

    wsdl_path(name: str) -> str                         # packaged WSDL file path
    create_client(wsdl, *, http, address=None, binding=None, system, sign=None, verifier=None)
        -> SoapClient                                   # call(operation, **kwargs) -> zeep objects
    translate(exc: BaseException, *, system, operation) -> HubError
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import zeep
import zeep.exceptions as zx
from lxml import etree

from ehealth_hub.core.errors import (
    ConfigurationError,
    DownstreamProtocolError,
    HostileXmlError,
    HubError,
    InvalidInput,
    SignatureError,
)
from ehealth_hub.core.xml import SOAP11_NS
from ehealth_hub.transport.http_errors import HTTPX_ERRORS, status_error, translate_http
from ehealth_hub.transport.network import DirectClient, DirectPost
from ehealth_hub.transport.soap import (
    AnswerPolicy,
    ClientPost,
    Endpoint,
    EnvelopeSigner,
    SoapClient,
    fault_error,
)

ZEEP_SETTINGS: Final = zeep.Settings(
    strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
)
_BODY: Final = f"{{{SOAP11_NS}}}Body"


def wsdl_path(name: str) -> str:
    """Filesystem path of a WSDL shipped with the connectors (``ehealth_hub/connectors/wsdl``;
    data files beside the connectors that speak them, read by path, not imported)."""
    return str(importlib.resources.files("ehealth_hub.connectors") / "wsdl" / name)


class LocalTransport(zeep.Transport):
    """zeep's loader for WSDL/XSD files, refusing anything that is not a local file."""

    def _load_remote_data(self, url: str) -> bytes:
        raise ConfigurationError(
            f"refusing to fetch {url!r}: WSDL/XSD must be local", system="soap"
        )


@dataclass(frozen=True, slots=True)
class WsdlMessages:
    """An operation's payload built, and its answer read, from the WSDL binding (strict)."""

    binding: Any
    """The zeep binding of the endpoint."""
    system: str
    """The downstream system's name in errors."""

    def encode(self, operation: str, parts: Mapping[str, Any]) -> tuple[etree._Element, str]:
        """The payload zeep serialises from ``parts`` and the operation's SOAPAction."""
        try:
            found = self.binding.get(operation)
            envelope = found.create(**parts).content
        except zx.Error as exc:
            raise translate(exc, system=self.system, operation=operation) from exc
        except ValueError as exc:  # zeep: no such operation in the binding
            raise ConfigurationError(str(exc), system=self.system, operation=operation) from exc
        body = envelope.find(_BODY)
        payload = next(body.iterchildren(etree.Element)) if body is not None else None
        if payload is None:  # pragma: no cover - zeep always builds a Body
            raise ConfigurationError("no payload built", system=self.system, operation=operation)
        return payload, str(found.soapaction or "")

    def decode(self, operation: str, envelope: etree._Element, payload: etree._Element) -> Any:
        """The answer as zeep's value objects."""
        try:
            return self.binding.get(operation).process_reply(envelope)
        except zx.Error as exc:
            raise translate(exc, system=self.system, operation=operation) from exc


def create_client(
    wsdl: str,
    *,
    http: DirectClient | httpx.AsyncClient,
    address: str | None = None,
    binding: str | None = None,
    system: str,
    sign: EnvelopeSigner | None = None,
    verifier: AnswerPolicy | None = None,
) -> SoapClient:
    """The SOAP client of the service ``wsdl`` describes, calling through ``http`` (the caller
    owns and closes it), its payloads built and read from the WSDL.

    ``address`` overrides the WSDL's endpoint (acceptance, production or a simulator URL);
    ``binding`` is the qualified binding name (``{ns}Name``), default the WSDL's first.
    """
    try:
        client = zeep.Client(wsdl, transport=LocalTransport(), settings=ZEEP_SETTINGS)  # type: ignore[no-untyped-call]  # zeep is untyped
    except (zx.Error, OSError) as exc:
        raise ConfigurationError(f"WSDL {wsdl!r} cannot be loaded: {exc}", system=system) from exc
    name = binding or next(iter(client.wsdl.bindings))
    try:
        bound = client.wsdl.bindings[name]
    except KeyError:
        raise ConfigurationError(f"WSDL {wsdl!r} has no binding {name!r}", system=system) from None
    url = address or _port_address(client, name)
    endpoint: Endpoint = (
        DirectPost(http, httpx.URL(url))
        if isinstance(http, DirectClient)
        else ClientPost(http, url)
    )
    messages = WsdlMessages(bound, system)
    return SoapClient(endpoint, messages, system, sign=sign, verifier=verifier)


def _port_address(client: Any, binding: str) -> str:
    """The address the WSDL gives the first port of ``binding``."""
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            if port.binding.name.text == binding or str(port.binding.name) == binding:
                return str(port.binding_options["address"])
    raise ConfigurationError(f"WSDL has no port for binding {binding!r}", system="soap")


def _fault(exc: zx.Fault, *, system: str, operation: str) -> HubError:
    code = None
    if exc.detail is not None:
        code = exc.detail.findtext(".//{*}Code") or exc.detail.findtext(".//Code")
    return fault_error(
        str(exc.code or ""), str(exc.message), code, system=system, operation=operation
    )


def translate(exc: BaseException, *, system: str, operation: str) -> HubError:
    """The HubError for a zeep or httpx exception (see the module docstring for the table)."""
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, zx.Error):
        return _translate_zeep(exc, system=system, operation=operation)
    if isinstance(exc, HTTPX_ERRORS):
        return translate_http(exc, system=system, operation=operation)
    raise TypeError(f"translate() handles zeep and httpx exceptions, not {type(exc).__name__}")


def _translate_zeep(exc: zx.Error, *, system: str, operation: str) -> HubError:
    name = type(exc).__name__
    if isinstance(exc, zx.Fault):
        return _fault(exc, system=system, operation=operation)
    if isinstance(exc, zx.TransportError):
        return status_error(int(exc.status_code or 0), system=system, operation=operation)
    if isinstance(exc, zx.ValidationError):
        path = ".".join(map(str, exc.path or ()))
        return InvalidInput(
            f"SOAP message invalid: {exc.message}",
            field=path,
            rule="soap.schema",
            system=system,
            operation=operation,
        )
    if isinstance(exc, zx.DTDForbidden | zx.EntitiesForbidden | zx.ExternalReferenceForbidden):
        return HostileXmlError(
            f"hostile XML in SOAP response: {name}", system=system, operation=operation
        )
    if isinstance(exc, zx.SignatureVerificationFailed):
        return SignatureError(
            "response signature does not verify", system=system, operation=operation
        )
    if isinstance(exc, zx.WsdlSyntaxError):
        return ConfigurationError(f"WSDL invalid: {exc}", system=system, operation=operation)
    return DownstreamProtocolError(
        f"unexpected SOAP response: {name}: {exc}", system=system, operation=operation
    )
