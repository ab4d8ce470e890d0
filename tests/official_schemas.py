"""The official eHealth and MyCareNet schemas, compiled in place from ``../shared`` (never copied).

``schema(shared, name)`` compiles ``ehealth-contracts/<name>``; each ``xsd:import`` resolves by file
name inside ``ehealth-contracts``, whatever folder the upstream ``schemaLocation`` names. Two kinds
of import point outside the set:

* KMEHR, which hubservices 3.5 imports at version 1.26: resolved to the KMEHR 1.38 schemas of
  ``kmehr-corpus`` (same namespaces; 1.38 is the version the hub writes);
* two W3C schemas the MyCareNet commons import: ``xml.xsd`` (the commons use nothing of it) and
  ``xmlmime.xsd``, answered by :data:`STAND_INS` with the one type and attribute the commons use
  (``xmime:base64Binary`` and ``xmime:contentType``, W3C Note "Describing Media Content of Binary
  Data in XML", 4 May 2005);
* the two CIN schemas GenericAsync v1 imports (``commonTypes``, ``commonInfo``): answered with
  *open* stand-ins, the seven types GenericAsync names accepting any content. So GenericAsync's own
  structure (element names, order, cardinality) is checked, the CIN types' content is not;
* the eHealth commons 1.6 schemas eHealthBox imports: open stand-ins too, only so that the
  eHealthBox schemas compile. Whole eHealthBox messages are therefore not validated, only the
  parts that use no commons type (:data:`OFFICIAL_PARTS`: sendMessage's ContentContext), each
  against its official type, plus the attribute names the official message type declares.

Any other import the set cannot satisfy fails the compilation with the missing file's name.

``wire_violations(shared, simulators)`` validates what SOAP simulators received and answered: each
body whose namespace is in :data:`OFFICIAL` against that schema, and each XAdES a MyCareNet
message carries (base64 in ``Xades``, ``XadesT``, ``Xades-t``) against XAdES 1.3.2. Not covered,
because the set lacks what their schemas import: ETK depot, addressbook and eHealthBox (eHealth
commons 1.x, IAM attributes) and MyCareNet MemberData (commons protocol v3); the set has no
Therapeutic Link contract.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Final

from lxml import etree

from ehealth_hub.core.xml import SOAP11_NS, local_name, parse_xml
from ehealth_hub.fixtures.soap_server import SoapSimulator

CONTRACTS: Final = Path("ehealth-contracts")
KMEHR: Final = Path("kmehr-corpus/kmehr-emf/model/ehealth-kmehr/XSD")

OFFICIAL: Final = {
    "http://www.ehealth.fgov.be/hubservices/protocol/v3": "hubservices_protocol-3_5.xsd",
    "urn:oasis:names:tc:SAML:1.0:protocol": "oasis-sstc-saml-schema-protocol-1.1.xsd",
    "urn:be:fgov:ehealth:mycarenet:attest:protocol:v3": "mycarenet-attest-protocol-3_0.xsd",
    "urn:be:cin:nip:async:generic": "mycarenet-genasync-v1.xsd",
}
"""SOAP body namespace -> the official schema that declares its messages."""
XADES_CARRIERS: Final = ("Xades", "XadesT", "Xades-t")
EHBOX_PUBLICATION: Final = "urn:be:fgov:ehealth:ehbox:publication:protocol:v3"
OFFICIAL_PARTS: Final = {
    (EHBOX_PUBLICATION, "SendMessageRequest"): (
        "ehealth-ehBox-publication-schema-protocol-3_0.xsd",
        "PublicationMessageType",
        {"ContentContext": "ContentContextType"},
    ),
}
"""(namespace, message) -> (official schema, the message's type, {child: its official type})."""
CHECK_NS: Final = "urn:ehealth-hub:tests:official-part"
XSD: Final = "{http://www.w3.org/2001/XMLSchema}"

STAND_INS: Final[dict[str, bytes]] = {
    "xml.xsd": b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
        targetNamespace="http://www.w3.org/XML/1998/namespace"/>""",
    "xmlmime.xsd": b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
        xmlns:xmime="http://www.w3.org/2005/05/xmlmime"
        targetNamespace="http://www.w3.org/2005/05/xmlmime">
      <xs:attribute name="contentType" type="xs:string"/>
      <xs:complexType name="base64Binary">
        <xs:simpleContent>
          <xs:extension base="xs:base64Binary">
            <xs:attribute ref="xmime:contentType"/>
          </xs:extension>
        </xs:simpleContent>
      </xs:complexType>
    </xs:schema>""",
}


def _open_types(namespace: str, *names: str, others_only: bool = False) -> bytes:
    """A schema whose ``names`` accept any attributes, text and children (unchecked content);
    ``others_only``: children of other namespaces only, so that a type extending one may add
    unqualified elements without making its content model ambiguous."""
    which = ' namespace="##other"' if others_only else ""
    mixed = "" if others_only else ' mixed="true"'  # an extension must keep its base's kind
    anything = (
        f'<xs:sequence><xs:any{which} processContents="skip" minOccurs="0" maxOccurs="unbounded"/>'
        '</xs:sequence><xs:anyAttribute processContents="skip"/>'
    )
    types = "".join(f'<xs:complexType name="{n}"{mixed}>{anything}</xs:complexType>' for n in names)
    return (
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{namespace}">'
        f"{types}</xs:schema>"
    ).encode()


STAND_INS.update(
    {
        "ehealth-commons-schema-core-1_6.xsd": _open_types(
            "urn:be:fgov:ehealth:commons:core:v1", "IdentifierType", others_only=True
        ),
        "ehealth-commons-schema-protocol-1_6.xsd": _open_types(
            "urn:be:fgov:ehealth:commons:protocol:v1", "ResponseType", others_only=True
        ),
        "commonTypes-v1.3.xsd": _open_types(
            "urn:be:cin:types:v1", "Base64BinaryList", "Blob", "FaultType", "StringList"
        ),
        "commonInfo-v2.3.xsd": _open_types(
            "urn:be:cin:mycarenet:esb:common:v2",
            "CommonInputType",
            "CommonOutputType",
            "OrigineType",
        ),
    }
)


class _InPlace(etree.Resolver):
    def __init__(self, shared: Path) -> None:
        super().__init__()
        self.shared = shared

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        name = system_url.rsplit("/", 1)[-1]
        if name in STAND_INS:
            return self.resolve_string(STAND_INS[name], context)
        kmehr = re.fullmatch(r"(id|cd|dt|kmehr|kmehr_elements)-1_\d+\.xsd", name)
        path = (
            self.shared / KMEHR / f"{kmehr.group(1)}-1_38.xsd"
            if kmehr
            else self.shared / CONTRACTS / name
        )
        if not path.is_file():
            raise FileNotFoundError(f"{system_url}: not in the reference set ({path})")
        return self.resolve_filename(str(path), context)


@cache
def schema(shared: Path, name: str) -> etree.XMLSchema:
    """The official schema ``name`` with its imports (trusted local files, no network)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parser.resolvers.add(_InPlace(shared))
    return etree.XMLSchema(etree.parse(str(shared / CONTRACTS / name), parser))


@cache
def type_schema(shared: Path, name: str, namespace: str, type_name: str) -> etree.XMLSchema:
    """A schema with one element, ``{CHECK_NS}Check``, of the official type ``type_name``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parser.resolvers.add(_InPlace(shared))
    wrapper = (
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:o="{namespace}" '
        f'targetNamespace="{CHECK_NS}"><xs:import namespace="{namespace}" schemaLocation="{name}"/>'
        f'<xs:element name="Check" type="o:{type_name}"/></xs:schema>'
    )
    base = str(shared / CONTRACTS / "check.xsd")
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser, base_url=base))


@cache
def declared_attributes(shared: Path, name: str, type_name: str) -> frozenset[str]:
    """The attribute names the official complex type ``type_name`` declares itself."""
    root = etree.parse(str(shared / CONTRACTS / name)).getroot()
    found = root.find(f"{XSD}complexType[@name='{type_name}']")
    assert found is not None, type_name
    return frozenset(a.get("name", "") for a in found.iter(f"{XSD}attribute"))


def violations(official: etree.XMLSchema, element: etree._Element) -> list[str]:
    """What ``element`` breaks in ``official``, one line per error (empty when valid)."""
    if official.validate(element):
        return []
    return [f"line {e.line}: {e.message}" for e in official.error_log]


def wire_violations(shared: Path, simulators: Mapping[str, SoapSimulator]) -> dict[str, list[str]]:
    """``"<simulator> request|answer <operation>[ <xades carrier>]"`` -> its violations, for every
    message a contract in the set covers (an empty list: valid)."""
    return {
        label: errors
        for name, sim in simulators.items()
        for way, messages in (("request", sim.received), ("answer", sim.answered))
        for message in messages
        for label, errors in _checked(shared, f"{name} {way} {message.operation}", message.envelope)
    }


def _checked(shared: Path, label: str, envelope: bytes) -> Iterator[tuple[str, list[str]]]:
    body = parse_xml(envelope).find(f"{{{SOAP11_NS}}}Body")
    assert body is not None, label
    payload = body[0]
    namespace = etree.QName(payload).namespace or ""
    if namespace in OFFICIAL:
        yield label, violations(schema(shared, OFFICIAL[namespace]), payload)
    part = OFFICIAL_PARTS.get((namespace, local_name(payload)))
    if part is not None:
        yield from _parts(shared, label, payload, namespace, *part)
    for carrier in payload.iter():
        if isinstance(carrier.tag, str) and local_name(carrier) in XADES_CARRIERS and carrier.text:
            signature = parse_xml(base64.b64decode(carrier.text))
            xades = schema(shared, "XAdES.xsd")
            yield f"{label} {local_name(carrier)}", violations(xades, signature)


def kinds(checked: Mapping[str, list[str]]) -> set[str]:
    """The labels without the simulator's name: ``"request GetTransactionRequest"``..."""
    return {label.split(" ", 1)[1] for label in checked}


def _parts(
    shared: Path,
    label: str,
    payload: etree._Element,
    namespace: str,
    name: str,
    message_type: str,
    children: Mapping[str, str],
) -> Iterator[tuple[str, list[str]]]:
    declared = declared_attributes(shared, name, message_type)
    undeclared = sorted(set(payload.attrib) - declared)
    yield f"{label} attributes", [f"{a} is not an attribute of {message_type}" for a in undeclared]
    for child in payload:
        type_name = children.get(local_name(child)) if isinstance(child.tag, str) else None
        if type_name is None:
            continue
        check = copy.deepcopy(child)
        check.tag = f"{{{CHECK_NS}}}Check"
        official = type_schema(shared, name, namespace, type_name)
        yield f"{label} {local_name(child)}", violations(official, check)
