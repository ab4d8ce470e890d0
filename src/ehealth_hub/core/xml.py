"""The one hardened XML parser factory of ehealth-hub.

Every byte of XML the hub reads (KMEHR from hubs and GP software, SOAP responses, SAML assertions,
WSDL/XSD shipped with the project) goes through :func:`parse_xml` or a parser from
:func:`secure_parser`. XML is hostile by default (OWASP XXE prevention cheat sheet):

- no DOCTYPE at all: a document that declares a DTD (internal or external) is refused with
  :class:`~ehealth_hub.core.errors.HostileXmlError`, by a byte scan of the prolog before lxml
  builds a tree and again from the parsed tree's docinfo (a DOCTYPE behind a comment, UTF-16), so no
  entity expansion ("billion laughs"), no external entity (XXE) and no DTD fetch can happen;
- the parser never resolves entities, never loads a DTD, never touches the network
  (``no_network=True``) and keeps libxml2's ``huge_tree`` protections on;
- configurable limits (:class:`XmlLimits`) bound what a document costs in memory: its size and
  its element and attribute counts are checked on the bytes before parsing, its depth and text
  sizes by libxml2 (or after parsing, for limits below libxml2's own);
- processing instructions other than the XML declaration are kept out of the tree (``remove_pis``).

Stable API (imported by the trust and connector engineers)::

    parse_xml(data: bytes, *, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element
    secure_parser(*, remove_blank_text: bool = False) -> etree.XMLParser
    XmlLimits(max_bytes=..., max_depth=..., max_elements=..., max_attributes=...,
              max_text_bytes=...)

Namespace constants: KMEHR 1.x (``http://www.ehealth.fgov.be/standards/kmehr/schema/v1``),
SOAP 1.1 and 1.2 envelopes, WS-Security (OASIS 2004 wss 1.0), XML-DSig, SAML 1.1/2.0 and the
eHealth IntraHub v3 / eHealthBox v3 namespaces.

lxml errors are translated here, in one place: a DTD/entity document or one over a limit becomes
``HostileXmlError``; any other syntax error becomes ``MappingError`` naming the line and the rule
``xml.well-formed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from lxml import etree

from ehealth_hub.core.errors import HostileXmlError, MappingError

# -- namespaces --------------------------------------------------------------------------------
KMEHR_NS: Final = "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"
"""KMEHR 1.x (the namespace stays v1 for every 1.x release, 1.0 to 1.38)."""
SOAP11_NS: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS: Final = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DSIG_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
XENC_NS: Final = "http://www.w3.org/2001/04/xmlenc#"
SAML11_NS: Final = "urn:oasis:names:tc:SAML:1.0:assertion"
SAMLP11_NS: Final = "urn:oasis:names:tc:SAML:1.0:protocol"
SAML20_NS: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
INTRAHUB_NS: Final = "http://www.ehealth.fgov.be/hubservices/protocol/v3"
"""eHealth IntraHub v3 (TransactionService: GetTransactionList/GetTransaction/PutTransaction)."""
HUBSERVICES_CORE_NS: Final = "http://www.ehealth.fgov.be/hubservices/core/v3"
EHBOX_CONSULTATION_NS: Final = "urn:be:fgov:ehealth:ehbox:consultation:protocol:v3"
EHBOX_PUBLICATION_NS: Final = "urn:be:fgov:ehealth:ehbox:publication:protocol:v3"
EHBOX_CORE_NS: Final = "urn:be:fgov:ehealth:ehbox:core:v3"

NSMAP: Final[dict[str, str]] = {
    "kmehr": KMEHR_NS,
    "soap": SOAP11_NS,
    "soap12": SOAP12_NS,
    "wsse": WSSE_NS,
    "wsu": WSU_NS,
    "ds": DSIG_NS,
    "xenc": XENC_NS,
    "saml": SAML11_NS,
    "samlp": SAMLP11_NS,
    "saml2": SAML20_NS,
    "xsi": XSI_NS,
}
"""Prefix map for XPath in callers (compile XPath once, at module level, with this map)."""


@dataclass(frozen=True, slots=True)
class XmlLimits:
    """Limits applied to every XML document read by the hub, so that what a document costs in
    memory is bounded before lxml builds it: libxml2 spends ~120 bytes per empty element and
    ~600 per KMEHR element (its attribute, whitespace and text nodes), so a 60 MB document of
    tiny elements would take ~1.9 GB. With these defaults a document under ``max_bytes`` peaks
    at about 10x its size (``python -m benchmarks.xml_limits``)."""

    max_bytes: int = 64 * 1024 * 1024
    """Largest document accepted, in bytes (a 1000-step TTC Sumehr is 11.7 MB)."""
    max_depth: int = 255
    """Deepest element nesting accepted (KMEHR needs < 20; SOAP + KMEHR < 40). libxml2 itself
    stops at 256 without ``huge_tree``; a smaller value costs one extra walk over the tree."""
    max_elements: int = 1_000_000
    """Most elements accepted, counted on the bytes before parsing (start tags: an upper bound,
    so a ``<`` inside a comment or CDATA counts too). The 11.7 MB TTC Sumehr has 278,000."""
    max_attributes: int = 1_000_000
    """Most attributes accepted, counted on the bytes before parsing (every ``=``: an upper
    bound, so an ``=`` in text counts too). The 11.7 MB TTC Sumehr has 268,000."""
    max_text_bytes: int = 10_000_000
    """Longest text node or attribute value accepted, in bytes. libxml2 enforces 10,000,000
    itself without ``huge_tree``; a smaller value costs one extra walk over the tree."""


DEFAULT_LIMITS: Final = XmlLimits()

# A DOCTYPE may only appear in the prolog: before the root element, after the declaration,
# comments and PIs. Scanning the prolog only keeps this O(prolog) and not fooled by CDATA text.
_DOCTYPE: Final = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY: Final = re.compile(rb"<!ENTITY", re.IGNORECASE)
_PROLOG_ROOT: Final = re.compile(rb"<[A-Za-z_]")
_LIBXML_MAX_DEPTH: Final = 255
_LIBXML_MAX_TEXT: Final = 10_000_000


def secure_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """A new lxml parser with every dangerous feature off (one per thread: parsers are not shared).

    Use it only for bytes already checked by :func:`parse_xml`, or with ``etree.fromstring`` on
    trusted project files; prefer :func:`parse_xml` everywhere else.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        remove_blank_text=remove_blank_text,
        collect_ids=False,
    )


def _refuse_dtd(data: bytes) -> None:
    root_start = _PROLOG_ROOT.search(data)
    prolog = data[: root_start.start()] if root_start else data
    if _DOCTYPE.search(prolog) or _ENTITY.search(prolog):
        raise HostileXmlError(
            "XML with a DOCTYPE or entity declaration is refused", operation="parse_xml"
        )


def parse_xml(data: bytes, *, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse ``data`` with the hardened parser and return its root element.

    Raises ``HostileXmlError`` for a DTD/entity declaration or a document over ``limits``;
    ``MappingError`` (rule ``xml.well-formed``, field ``line N``) for malformed XML.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_xml takes bytes (the encoding is read from the XML declaration)")
    if len(data) > limits.max_bytes:
        raise HostileXmlError(
            f"XML of {len(data)} bytes exceeds the limit of {limits.max_bytes}",
            operation="parse_xml",
        )
    raw = bytes(data)
    _refuse_dtd(raw)
    _check_counts(raw, limits)
    try:
        root = etree.fromstring(raw, parser=secure_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else 0
        if "Excessive depth" in str(exc.msg) or "huge" in str(exc.msg).lower():
            raise HostileXmlError(
                f"XML exceeds the parser's safety limits: {exc.msg}", operation="parse_xml"
            ) from exc
        raise MappingError(
            f"malformed XML: {exc.msg}",
            field=f"line {line}",
            rule="xml.well-formed",
            operation="parse_xml",
        ) from exc
    if root is None:
        raise MappingError("empty XML document", field="line 1", rule="xml.well-formed")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # The byte scan misses a DOCTYPE hidden behind a comment or in UTF-16; the parser saw it
        # (without expanding or fetching anything), so refuse it now.
        raise HostileXmlError("XML with a DOCTYPE is refused", operation="parse_xml")
    if limits.max_depth < _LIBXML_MAX_DEPTH or limits.max_text_bytes < _LIBXML_MAX_TEXT:
        _check_tree(root, limits)
    return root


def _over(what: str, count: int, limit: str, value: int) -> HostileXmlError:
    return HostileXmlError(
        f"XML has {count} {what}, over the limit {limit}={value}", operation="parse_xml"
    )


def _check_counts(raw: bytes, limits: XmlLimits) -> None:
    """Element and attribute counts from the bytes (C-speed scans), before any tree exists."""
    elements = raw.count(b"<") - raw.count(b"</") - raw.count(b"<!") - raw.count(b"<?")
    if elements > limits.max_elements:
        raise _over("elements (start tags)", elements, "max_elements", limits.max_elements)
    attributes = raw.count(b"=")
    if attributes > limits.max_attributes:
        raise _over("attributes ('=' signs)", attributes, "max_attributes", limits.max_attributes)


def _check_tree(root: etree._Element, limits: XmlLimits) -> None:
    """Depth and text sizes below libxml2's own limits: one walk over the tree."""
    depth = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        if depth > limits.max_depth:
            raise HostileXmlError(
                f"XML nesting deeper than {limits.max_depth} levels", operation="parse_xml"
            )
        texts = [element.text or "", element.tail or "", *element.attrib.values()]
        longest = max(len(t.encode()) for t in texts)
        if longest > limits.max_text_bytes:
            raise _over("bytes in one text", longest, "max_text_bytes", limits.max_text_bytes)


def text_splitting_node(element: etree._Element) -> etree._Element | None:
    """The first comment or processing instruction inside ``element`` that has text after it.

    Canonical XML without comments (what XML-DSig signs) drops such a node and joins the text
    around it, but lxml keeps the text after it as the node's ``tail``: ``1153<!--c-->0231003``
    is signed as ``11530231003`` and read (``.text``) as ``1153``. Verifiers refuse signed
    content where this returns a node. Whitespace-only tails (indentation) change nothing a
    reader uses and are allowed.
    """
    for node in element.iter(etree.Comment, etree.ProcessingInstruction):
        if node is not element and (node.tail or "").strip():
            return node
    return None


def local_name(element: etree._Element) -> str:
    """The tag of ``element`` without its namespace (``""`` for comments and PIs)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]
