"""The one SOAP client factory (zeep 4.3 AsyncClient over httpx) and the ONE place where zeep and
httpx exceptions become :class:`~ehealth_hub.core.errors.HubError` subclasses.

SOAP 1.1 document/literal as every eHealth and MyCareNet service speaks it. WSDLs are the
project's own (``ehealth_hub/connectors/wsdl/*.wsdl``, see :func:`wsdl_path`) or a configured path;
they are read from disk, never fetched. Every response body passes through the hardened parser
(``core.xml.parse_xml``: no DTD, no entities, size limit) before zeep parses it.

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
    httpx timeouts, network, remote protocol, proxy errors -> DownstreamUnavailable (retryable)
    httpx HTTPStatusError                -> by status, as above
    httpx invalid URL, unsupported scheme -> ConfigurationError
    other httpx errors (decoding, redirects, streams, cookies) -> DownstreamProtocolError

Public API (stable)::

    wsdl_path(name: str) -> str                         # packaged WSDL file path
    create_client(wsdl, *, http, plugins=(), address=None, binding=None, system) -> SoapClient
    SoapClient.call(operation: str, **kwargs) -> Any    # translated errors; HubError passes through
    translate(exc: BaseException, *, system, operation) -> HubError
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
import zeep
import zeep.exceptions as zx
from zeep import Plugin
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from ehealth_hub.core.errors import (
    BusinessRejection,
    ConfigurationError,
    DownstreamProtocolError,
    DownstreamUnavailable,
    HostileXmlError,
    HubError,
    InvalidInput,
    MappingError,
    SignatureError,
)
from ehealth_hub.core.xml import parse_xml

_UNAVAILABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})
ZEEP_SETTINGS: Final = zeep.Settings(
    strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
)


def wsdl_path(name: str) -> str:
    """Filesystem path of a WSDL shipped in ``ehealth_hub/connectors/wsdl``."""
    return str(importlib.resources.files("ehealth_hub.connectors") / "wsdl" / name)


class HubAsyncTransport(AsyncTransport):
    """zeep's AsyncTransport without its body logging (personal data) and header overwrite, and
    with every response screened by the hardened parser before zeep sees it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.cache = None
        self.client = client
        self.wsdl_client = None  # WSDLs are local files; zeep never fetches one
        self._close_session = False
        self.logger = logging.getLogger(__name__)

    async def aclose(self) -> None:
        """The caller owns the httpx client and closes it."""

    def _load_remote_data(self, url: str) -> bytes:
        raise ConfigurationError(
            f"refusing to fetch {url!r}: WSDL/XSD must be local", system="soap"
        )

    async def post(self, address: str, message: bytes, headers: dict[str, str]) -> httpx.Response:
        response = await self.client.post(address, content=message, headers=headers)
        if response.content and b"xml" in response.headers.get("content-type", "xml").encode():
            try:
                parse_xml(response.content)  # HostileXmlError before zeep parses anything
            except MappingError as exc:
                raise DownstreamProtocolError(
                    f"malformed XML response: {exc.detail}", system="soap", operation=address
                ) from exc
        return response


@dataclass(frozen=True, slots=True)
class SoapClient:
    """A bound zeep service with error translation; build with :func:`create_client`."""

    client: zeep.AsyncClient
    service: Any
    system: str

    async def call(self, operation: str, **kwargs: Any) -> Any:
        """Call ``operation``; every foreign exception leaves as a HubError."""
        try:
            return await getattr(self.service, operation)(**kwargs)
        except HubError:
            raise
        except (
            zx.Error,
            httpx.HTTPError,
            httpx.InvalidURL,
            httpx.CookieConflict,
            httpx.StreamError,
        ) as exc:
            raise translate(exc, system=self.system, operation=operation) from exc


def create_client(
    wsdl: str,
    *,
    http: httpx.AsyncClient,
    plugins: Sequence[Plugin] = (),
    address: str | None = None,
    binding: str | None = None,
    system: str,
) -> SoapClient:
    """A zeep AsyncClient over ``http`` (the caller owns and closes it) with ``plugins`` in order.

    ``address`` overrides the WSDL's endpoint (acceptance, production or a simulator URL);
    ``binding`` is the qualified binding name (``{ns}Name``), default the WSDL's first.
    """
    try:
        client = zeep.AsyncClient(  # type: ignore[no-untyped-call]  # zeep is untyped
            wsdl, transport=HubAsyncTransport(http), plugins=list(plugins), settings=ZEEP_SETTINGS
        )
    except (zx.Error, OSError) as exc:
        raise ConfigurationError(f"WSDL {wsdl!r} cannot be loaded: {exc}", system=system) from exc
    if address is None:
        return SoapClient(client, client.service, system)
    name = binding or next(iter(client.wsdl.bindings))
    try:
        bound = client.wsdl.bindings[name]
    except KeyError:
        raise ConfigurationError(f"WSDL {wsdl!r} has no binding {name!r}", system=system) from None
    return SoapClient(client, AsyncServiceProxy(client, bound, address=address), system)  # type: ignore[no-untyped-call]  # zeep is untyped


def status_error(status: int, *, system: str, operation: str) -> HubError:
    if status in _UNAVAILABLE_STATUS or status >= 500:
        return DownstreamUnavailable(
            f"HTTP {status}", system=system, operation=operation, code=f"http-{status}"
        )
    return DownstreamProtocolError(
        f"unexpected HTTP {status}", system=system, operation=operation, code=f"http-{status}"
    )


def _fault(exc: zx.Fault, *, system: str, operation: str) -> HubError:
    code = None
    if exc.detail is not None:
        code = exc.detail.findtext(".//{*}Code") or exc.detail.findtext(".//Code")
    return fault_error(
        str(exc.code or ""), str(exc.message), code, system=system, operation=operation
    )


def fault_error(
    faultcode: str, message: str, detail_code: str | None, *, system: str, operation: str
) -> HubError:
    """The HubError for a SOAP 1.1 Fault (``faultcode``, ``faultstring``, an eHealth ``Code``
    in ``detail``); shared by zeep's path and :mod:`.soap_lean`."""
    code = detail_code or faultcode
    detail = f"SOAP fault {faultcode}: {message}"
    if faultcode.endswith("Client"):
        return BusinessRejection(detail, system=system, operation=operation, code=code)
    retry = faultcode.endswith("Server")
    return DownstreamProtocolError(
        detail, system=system, operation=operation, code=code, retryable=retry
    )


def translate(exc: BaseException, *, system: str, operation: str) -> HubError:
    """The HubError for a zeep or httpx exception (see the module docstring for the table)."""
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, zx.Error):
        return _translate_zeep(exc, system=system, operation=operation)
    if isinstance(
        exc, httpx.HTTPError | httpx.InvalidURL | httpx.CookieConflict | httpx.StreamError
    ):
        return _translate_httpx(exc, system=system, operation=operation)
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


def _translate_httpx(exc: Exception, *, system: str, operation: str) -> HubError:
    name = type(exc).__name__
    if isinstance(exc, httpx.HTTPStatusError):
        return status_error(exc.response.status_code, system=system, operation=operation)
    if isinstance(exc, httpx.TimeoutException):
        return DownstreamUnavailable(
            f"timeout: {name}", code="timeout", system=system, operation=operation
        )
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return DownstreamUnavailable(
            f"transport failure: {name}", code="transport", system=system, operation=operation
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigurationError(
            f"endpoint URL unusable: {exc}", system=system, operation=operation
        )
    return DownstreamProtocolError(
        f"HTTP exchange failed: {name}", system=system, operation=operation
    )
