"""The hardened parser factory refuses hostile XML and reports malformed XML with its line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ehealth_hub.core.errors import HostileXmlError, HubError, MappingError
from ehealth_hub.core.xml import KMEHR_NS, XmlLimits, local_name, parse_xml, secure_parser

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"""
EXTERNAL_DTD = b'<!DOCTYPE foo SYSTEM "http://example.com/evil.dtd"><foo/>'
BEHIND_A_COMMENT = b'<!-- <x> --><!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>'
UTF16 = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'.encode(
    "utf-16"
)


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE, EXTERNAL_DTD, BEHIND_A_COMMENT, UTF16])
def test_refuses_documents_with_a_doctype(payload: bytes) -> None:
    with pytest.raises(HostileXmlError):
        parse_xml(payload)


def test_refuses_documents_over_the_size_limit() -> None:
    with pytest.raises(HostileXmlError, match="exceeds the limit"):
        parse_xml(b"<a>" + b"x" * 200 + b"</a>", limits=XmlLimits(max_bytes=100))


def test_refuses_nesting_deeper_than_the_limit() -> None:
    deep = b"<a>" * 20 + b"</a>" * 20
    with pytest.raises(HostileXmlError, match="deeper than 10"):
        parse_xml(deep, limits=XmlLimits(max_depth=10))


def test_refuses_nesting_beyond_the_parser_bound() -> None:
    with pytest.raises(HostileXmlError):
        parse_xml(b"<a>" * 300 + b"</a>" * 300)


def test_reports_malformed_xml_with_its_line_and_rule() -> None:
    with pytest.raises(MappingError) as caught:
        parse_xml(b"<a>\n<b>\n</a>")
    assert caught.value.rule == "xml.well-formed"
    assert caught.value.field.startswith("line ")


def test_accepts_doctype_text_that_is_only_content() -> None:
    root = parse_xml(b"<a><![CDATA[<!DOCTYPE x>]]></a>")
    assert root.text == "<!DOCTYPE x>"


def test_never_expands_entities_even_when_the_secure_parser_is_used_directly() -> None:
    root = etree.fromstring(XXE, secure_parser())
    assert b"root:" not in etree.tostring(root)
    assert root.text is None


def test_returns_namespaced_elements_with_local_names() -> None:
    root = parse_xml(f'<kmehrmessage xmlns="{KMEHR_NS}"><header/></kmehrmessage>'.encode())
    assert local_name(root) == "kmehrmessage"
    assert root[0].tag == f"{{{KMEHR_NS}}}header"


def test_refuses_text_instead_of_bytes() -> None:
    with pytest.raises(TypeError):
        parse_xml("<a/>")  # type: ignore[arg-type]  # the wrong type is the point of the test


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_never_crashes_on_arbitrary_bytes(data: bytes) -> None:
    outcome: object
    try:
        outcome = local_name(parse_xml(data))
    except HubError as exc:
        outcome = exc.detail
    assert outcome
