"""Memory limits of the hardened parser (issue 16 #11): documents under the size limit that would
cost gigabytes once parsed (many tiny elements or attributes, deep nesting, huge texts) are
refused before a tree exists; the largest real KMEHR still parses and translates. Peak memory
is measured by ``python -m benchmarks.xml_limits``, not here."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ehealth_hub.core.errors import HostileXmlError
from ehealth_hub.core.xml import DEFAULT_LIMITS, XmlLimits, parse_xml
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr

TTC_1000 = Path("kmehr-corpus/ttc2023-kmehr2fhir/models/sumehr_example1000.kmehr")


def many_elements(count: int) -> bytes:
    return b"<r>" + b"<a/>" * count + b"</r>"


def many_attributes(count: int) -> bytes:
    per_element = 1000  # one start tag must stay under libxml2's own buffer limit
    element = b"<a " + b" ".join(b'v%d=""' % i for i in range(per_element)) + b"/>"
    return b"<r>" + element * (count // per_element) + b"</r>"


def deep(levels: int) -> bytes:
    return b"<a>" * levels + b"</a>" * levels


HOSTILE = {
    "1.1 million tiny elements (4.4 MB)": (many_elements(1_100_000), "max_elements"),
    "1.1 million attributes (8 MB)": (many_attributes(1_100_000), "max_attributes"),
    "nesting 10,000 deep": (deep(10_000), "Excessive depth|deeper"),
    "a 12 MB text": (b"<a>" + b"x" * 12_000_000 + b"</a>", "huge|limits"),
    "a 12 MB attribute value": (b'<a v="' + b"x" * 12_000_000 + b'"/>', "huge|limit"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_document_that_would_cost_too_much_memory_is_refused(name: str) -> None:
    data, reason = HOSTILE[name]
    assert len(data) < DEFAULT_LIMITS.max_bytes
    with pytest.raises(HostileXmlError, match=reason):
        parse_xml(data)


def test_the_translation_refuses_a_document_of_too_many_elements() -> None:
    kmehr = b'<kmehrmessage xmlns="http://www.ehealth.fgov.be/standards/kmehr/schema/v1">'
    kmehr += b"<folder/>" * 1_100_000 + b"</kmehrmessage>"
    with pytest.raises(HostileXmlError, match="max_elements"):
        translate_kmehr(kmehr, now=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("limits", "data", "reason"),
    [
        (XmlLimits(max_elements=10), many_elements(9), None),  # and the root
        (XmlLimits(max_elements=10), many_elements(10), "max_elements=10"),
        (XmlLimits(max_attributes=1000), many_attributes(1000), None),
        (XmlLimits(max_attributes=999), many_attributes(1000), "max_attributes=999"),
        (XmlLimits(max_text_bytes=100), b"<a>" + b"x" * 100 + b"</a>", None),
        (XmlLimits(max_text_bytes=100), b"<a>" + b"x" * 101 + b"</a>", "max_text_bytes=100"),
        (XmlLimits(max_text_bytes=100), b"<a><b/>" + b"x" * 101 + b"</a>", "max_text_bytes"),
        (XmlLimits(max_text_bytes=100), b'<a v="' + b"x" * 101 + b'"/>', "max_text_bytes"),
    ],
)
def test_each_limit_is_a_bound_that_is_applied_exactly(
    limits: XmlLimits, data: bytes, reason: str | None
) -> None:
    if reason is None:
        parse_xml(data, limits=limits)
    else:
        with pytest.raises(HostileXmlError, match=reason):
            parse_xml(data, limits=limits)


def test_the_limits_are_a_frozen_configuration() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_elements = 10  # type: ignore[misc]  # the point of the test


def test_the_largest_real_kmehr_still_parses_and_translates(shared_dir: Path) -> None:
    path = shared_dir / TTC_1000
    if not path.is_file():
        pytest.skip("TTC 2023 inputs not present")
    data = path.read_bytes()
    root = parse_xml(data)
    assert sum(1 for _ in root.iter()) > 250_000  # the 11.7 MB Sumehr, 278,000 elements
    bundle = translate_kmehr(data, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert len(bundle["entry"]) > 1000
