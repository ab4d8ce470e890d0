"""The project's own WSDL/XSD follow the official eHealth contracts (read in place from
``../shared/ehealth-contracts``, skipped when absent): same namespaces, same element names; and
every hubservices operation the connectors use, both ways on the wire, validates against them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.intrahub import IntraHubClient
from ehealth_hub.core.ports import NationalConsent
from ehealth_hub.core.xml import parse_xml
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import Simulators
from ehealth_hub.transport.wsdl import wsdl_path
from tests.connectors.conftest import Clock, actor, permit
from tests.official_schemas import kinds, wire_violations

XSD = "{http://www.w3.org/2001/XMLSchema}"
pytestmark = pytest.mark.corpus


def _globals(schema: etree._Element) -> set[str]:
    return {e.get("name", "") for e in schema.findall(f"{XSD}element")}


def _schemas(path: Path) -> list[etree._Element]:
    root = parse_xml(path.read_bytes())
    return [root] if root.tag == f"{XSD}schema" else list(root.iter(f"{XSD}schema"))


def _official(contracts: Path, name: str) -> tuple[str, set[str]]:
    schema = _schemas(contracts / name)[0]
    return schema.get("targetNamespace", ""), _globals(schema)


@pytest.fixture
def contracts(shared_dir: Path) -> Path:
    return shared_dir / "ehealth-contracts"


@pytest.mark.parametrize(
    ("own", "official"),
    [
        ("hubservices_protocol_v3.xsd", "hubservices_protocol-3_5.xsd"),
        ("ehbox_v3.wsdl", "ehealth-ehBox-publication-schema-protocol-3_0.xsd"),
        ("ehbox_v3.wsdl", "ehealth-ehBox-consultation-schema-protocol-3_0.xsd"),
        ("addressbook_v1.wsdl", "ehealth-addressbook-protocol-1_1.xsd"),
    ],
)
def test_own_request_and_response_elements_exist_in_the_official_contract(
    contracts: Path, own: str, official: str
) -> None:
    namespace, names = _official(contracts, official)
    mine = next(s for s in _schemas(Path(wsdl_path(own))) if s.get("targetNamespace") == namespace)
    messages = {n for n in _globals(mine) if n.endswith(("Request", "Response"))}
    assert messages, f"{own} declares no message of {namespace}"
    assert messages <= names, sorted(messages - names)


def test_hubservices_core_types_keep_the_official_element_order(contracts: Path) -> None:
    official = _schemas(contracts / "hubservices_core-3_5.xsd")[0]
    mine = _schemas(Path(wsdl_path("hubservices_core_v3.xsd")))[0]
    for name in (
        "RequestType",
        "AcknowledgeType",
        "ConsentType",
        "SelectGetTransactionListType",
        "TransactionSummaryType",
    ):

        def children(schema: etree._Element, type_name: str = name) -> list[str]:
            node = schema.find(f"{XSD}complexType[@name='{type_name}']")
            assert node is not None, type_name
            return [e.get("name", "") for e in node.iter(f"{XSD}element")]

        ours, theirs = children(mine), children(official)
        assert [n for n in theirs if n in ours] == ours, name


async def test_every_hubservices_operation_on_the_wire_follows_the_official_contract(
    shared_dir: Path,
    sims: Simulators,
    hub_client: Callable[[str], IntraHubClient],
    consent_client: ConsentClient,
    clock: Clock,
) -> None:
    rsw, sarah = hub_client("rsw"), actor("sarah")
    reading = permit("an", now=clock())
    refs = await rsw.list_transactions(reading, sarah, types=("sumehr",))
    await rsw.get_transaction(reading, sarah, refs[0])
    assert await rsw.get_exclusions(sandbox.patient("marc").ssin, sarah)
    sofie = sandbox.patient("sofie").ssin
    await consent_client.put_consent(NationalConsent(sofie, "active", clock().date()), sarah)
    await consent_client.get_consent(sofie, sarah)
    await consent_client.revoke_consent(sofie, sarah)
    simulators = {"rsw": sims.hubs["rsw"].soap, "consent": sims.consent.soap}
    checked = wire_violations(shared_dir, simulators)
    assert not {label: errors for label, errors in checked.items() if errors}
    operations = (
        "GetTransactionList",
        "GetTransaction",
        "GetTherapeuticLink",
        "PutPatientConsent",
        "GetPatientConsent",
        "RevokePatientConsent",
    )
    expected = {f"{way} {op}Request" for op in operations for way in ("request", "answer")}
    assert expected <= kinds(checked), sorted(expected - kinds(checked))
