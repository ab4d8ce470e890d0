"""Helpers of the mapping tests: small KMEHR documents written inline, schema assertions."""

from __future__ import annotations

from typing import Any

from lxml import etree

from ehealth_hub.fhir.builders import Json

KMEHR_NS = "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"


def kmehr_doc(
    items: str = "",
    *,
    namespace: bool = True,
    patient_id: str = '<id S="INSS" SV="1.0">85031212362</id>',
    transaction: str = "sumehr",
    extra_transactions: str = "",
    time: str = "<time>10:15:00</time>",
) -> bytes:
    """A small Sumehr-like KMEHR message around ``items`` (XML text of ``item`` elements)."""
    xmlns = f' xmlns="{KMEHR_NS}"' if namespace else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<kmehrmessage{xmlns}>
  <header>
    <standard><cd S="CD-STANDARD" SV="1.0">20161201</cd></standard>
    <id S="ID-KMEHR" SV="1.0">11530231003.1</id>
    <date>2026-07-01</date><time>10:15:00</time>
    <sender><hcparty><id S="ID-HCPARTY" SV="1.0">11530231003</id>
      <cd S="CD-HCPARTY" SV="1.0">persphysician</cd>
      <firstname>Sarah</firstname><familyname>Vermeulen</familyname></hcparty></sender>
    <recipient><hcparty><cd S="CD-HCPARTY" SV="1.0">application</cd><name>hub</name></hcparty>
    </recipient>
  </header>
  <folder>
    <id S="ID-KMEHR" SV="1.0">1</id>
    <patient>
      {patient_id}
      <firstname>An</firstname><familyname>Peeters</familyname>
      <birthdate><date>1985-03-12</date></birthdate>
      <sex><cd S="CD-SEX" SV="1.0">female</cd></sex>
      <usuallanguage>nl</usuallanguage>
    </patient>
    <transaction>
      <id S="ID-KMEHR" SV="1.0">1</id>
      <cd S="CD-TRANSACTION" SV="1.0">{transaction}</cd>
      <date>2026-07-01</date>{time}
      <author><hcparty><id S="ID-HCPARTY" SV="1.0">11530231003</id>
        <cd S="CD-HCPARTY" SV="1.0">persphysician</cd>
        <firstname>Sarah</firstname><familyname>Vermeulen</familyname></hcparty></author>
      <iscomplete>true</iscomplete><isvalidated>true</isvalidated>
      {items}
    </transaction>
    {extra_transactions}
  </folder>
</kmehrmessage>""".encode()


def resources(bundle: Json, resource_type: str) -> list[Json]:
    """The resources of one type in a Bundle, in entry order."""
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def only(bundle: Json, resource_type: str) -> Any:
    """The single resource of a type (fails when there is not exactly one)."""
    found = resources(bundle, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, got {len(found)}"
    return found[0]


def assert_valid(schema: etree.XMLSchema, kmehr: bytes) -> None:
    """Fail with the schema's messages when ``kmehr`` does not validate."""
    assert schema.validate(etree.fromstring(kmehr)), [str(e) for e in schema.error_log]
