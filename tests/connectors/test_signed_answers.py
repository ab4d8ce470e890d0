"""Signed answers (issue 16 #2): Consent, Therapeutic Link and the hubs sign every answer, and
the connectors believe an answer only once its signature, certificate chain, signer and
Timestamp check out. An unsigned, tampered, stale or impostor-signed answer is a source failure
(UnverifiedAnswer, a DownstreamUnavailable): never a decision."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from lxml import etree

from ehealth_hub.connectors.consent import ConsentClient
from ehealth_hub.connectors.intrahub import IntraHubClient
from ehealth_hub.connectors.therlink import TherapeuticLinkClient
from ehealth_hub.core.errors import DownstreamUnavailable, UnverifiedAnswer
from ehealth_hub.core.xml import SOAP11_NS, WSSE_NS, WSU_NS, parse_xml
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.simulate import Simulators
from ehealth_hub.fixtures.soap_server import FaultPlan, SoapSimulator
from ehealth_hub.trust.layer import EHEALTH_SIGNER
from ehealth_hub.trust.wsse import ExpectedSigner, WsseAnswerPolicy
from tests.connectors.conftest import actor, permit
from tests.trust.conftest import Clock

AN = sandbox.patient("an").ssin
XMLSEC1 = shutil.which("xmlsec1")
SOFIE = sandbox.patient("sofie").ssin
Spoil = Callable[[FaultPlan, SandboxPki], None]


def _unsigned(plan: FaultPlan, pki: SandboxPki) -> None:
    plan.unsigned = True


def _tampered(plan: FaultPlan, pki: SandboxPki) -> None:
    plan.tampered = True


def _stale(plan: FaultPlan, pki: SandboxPki) -> None:
    plan.stale = True


def _impostor(plan: FaultPlan, pki: SandboxPki) -> None:
    """Signed by a certificate the truststore knows, but not the service's own."""
    plan.impostor = pki.practitioner("jan")


SPOILED: dict[str, tuple[Spoil, str]] = {
    "unsigned": (_unsigned, "unsigned"),
    "tampered": (_tampered, "invalid"),
    "stale": (_stale, "stale"),
    "impostor": (_impostor, "unexpected-signer"),
}


async def _refused(call: Awaitable[object], code: str) -> None:
    with pytest.raises(UnverifiedAnswer) as refused:
        await call
    assert isinstance(refused.value, DownstreamUnavailable)  # a source failure: 503, an outage
    assert refused.value.code == code


@pytest.mark.parametrize("spoil", list(SPOILED))
async def test_a_consent_answer_that_is_not_properly_signed_is_not_believed(
    consent_client: ConsentClient, sims: Simulators, sandbox_pki: SandboxPki, spoil: str
) -> None:
    action, code = SPOILED[spoil]
    action(sims.consent.soap.faults, sandbox_pki)
    await _refused(consent_client.get_consent(SOFIE, actor("sarah")), code)


@pytest.mark.parametrize("spoil", list(SPOILED))
async def test_a_therapeutic_link_answer_that_is_not_properly_signed_is_not_believed(
    therlink_client: TherapeuticLinkClient,
    sims: Simulators,
    sandbox_pki: SandboxPki,
    spoil: str,
) -> None:
    action, code = SPOILED[spoil]
    action(sims.therlink.soap.faults, sandbox_pki)
    await _refused(therlink_client.has_link(AN, actor("sarah")), code)


@pytest.mark.parametrize("spoil", list(SPOILED))
async def test_a_hub_answer_that_is_not_properly_signed_is_not_served(
    hub_client: Callable[[str], IntraHubClient],
    sims: Simulators,
    sandbox_pki: SandboxPki,
    clock: Clock,
    spoil: str,
) -> None:
    action, code = SPOILED[spoil]
    action(sims.hubs["rsw"].soap.faults, sandbox_pki)
    rsw = hub_client("rsw")
    await _refused(
        rsw.list_transactions(permit("an", now=clock()), actor("sarah"), types=("sumehr",)), code
    )


async def test_a_hub_answer_signed_by_another_hub_is_not_served(
    hub_client: Callable[[str], IntraHubClient],
    sims: Simulators,
    sandbox_pki: SandboxPki,
    clock: Clock,
) -> None:
    sims.hubs["rsw"].soap.faults.impostor = sandbox_pki.hub_signer("vitalink")
    rsw = hub_client("rsw")
    await _refused(
        rsw.list_transactions(permit("an", now=clock()), actor("sarah"), types=("sumehr",)),
        "unexpected-signer",
    )


def _last_answer(sim: SoapSimulator) -> etree._Element:
    return parse_xml(sim.answered[-1].envelope)


async def test_every_answer_is_signed_by_its_service_and_verifies(
    consent_client: ConsentClient,
    therlink_client: TherapeuticLinkClient,
    hub_client: Callable[[str], IntraHubClient],
    sims: Simulators,
    sandbox_pki: SandboxPki,
    clock: Clock,
) -> None:
    await consent_client.get_consent(AN, actor("sarah"))
    await therlink_client.has_link(AN, actor("sarah"))
    await hub_client("rsw").list_transactions(
        permit("an", now=clock()), actor("sarah"), types=("sumehr",)
    )
    rsw = ExpectedSigner("EHP", sandbox.hub("rsw").hub_id)
    for sim, signer, credential in (
        (sims.consent.soap, EHEALTH_SIGNER, sandbox_pki.ehealth_services),
        (sims.therlink.soap, EHEALTH_SIGNER, sandbox_pki.ehealth_services),
        (sims.hubs["rsw"].soap, rsw, sandbox_pki.hub_signer("rsw")),
    ):
        verifier = WsseAnswerPolicy(sandbox_pki.truststore, clock=clock, signer=signer)
        verified = verifier.check(_last_answer(sim))
        assert verified is not None
        assert verified.signer == credential.certificate
        assert verified.signed == {"Body", "Timestamp", "BinarySecurityToken"}


def _xmlsec1_verifies(answer: Path, certificate: Path) -> bool:
    nodes = (f"{SOAP11_NS}:Body", f"{WSU_NS}:Timestamp", f"{WSSE_NS}:BinarySecurityToken")
    ids = [a for n in nodes for a in ("--id-attr:Id", n)]
    command = [str(XMLSEC1), "--verify", *ids, "--pubkey-cert-pem", str(certificate), str(answer)]
    checked = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603  # fixed binary, test-owned arguments
    return checked.returncode == 0


@pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 not installed (apt-get install xmlsec1)")
async def test_a_simulator_answer_verifies_with_xmlsec1_too(
    consent_client: ConsentClient, sims: Simulators, sandbox_pki: SandboxPki, tmp_path: Path
) -> None:
    """An independent implementation accepts the signed answer, and refuses it tampered."""
    await consent_client.get_consent(AN, actor("sarah"))
    answer = tmp_path / "answer.xml"
    answer.write_bytes(sims.consent.soap.answered[-1].envelope)
    certificate = sandbox_pki.directory / "svc/ehealth.crt.pem"
    assert _xmlsec1_verifies(answer, certificate)
    answer.write_bytes(answer.read_bytes().replace(b"Consent", b"Konsent", 1))
    assert not _xmlsec1_verifies(answer, certificate)
