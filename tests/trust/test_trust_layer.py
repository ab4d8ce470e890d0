"""The trust layer assembled from settings, as the composition root builds it."""

from __future__ import annotations

from pathlib import Path

import httpx
from lxml import etree

from ehealth_hub.core.xml import SOAP11_NS, parse_xml
from ehealth_hub.fixtures.pki import SandboxPki, sandbox_identities
from ehealth_hub.fixtures.sim_etkdepot import EtkDepotSimulator
from ehealth_hub.fixtures.sim_sts import StsSimulator
from ehealth_hub.settings import load_settings
from ehealth_hub.trust.layer import TrustLayer
from ehealth_hub.trust.wsse import use_token, verify_envelope
from tests.trust.conftest import Clock


async def test_builds_a_working_sandbox_trust_layer_from_settings(
    sandbox_pki: SandboxPki, clock: Clock, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path, trust={"pki_dir": sandbox_pki.directory})
    sts_sim, etk_sim = (
        StsSimulator(sandbox_pki, clock=clock),
        EtkDepotSimulator(sandbox_pki, clock=clock),
    )
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=sts_sim.app)) as sts_http,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=etk_sim.app)) as etk_http,
    ):
        trust = TrustLayer.from_settings(
            settings, sts_http=sts_http, etk_http=etk_http, clock=clock, sandbox=sandbox_identities
        )
        token = await trust.token("11530231003", "doctor")
        etk = await trust.etk_depot.get_etk(sandbox_pki.mycarenet_id)
    assert token.holder.subject_value("NIHII") == "11530231003"
    assert etk == sandbox_pki.mycarenet_etk.certificate
    envelope = etree.Element(f"{{{SOAP11_NS}}}Envelope")
    etree.SubElement(envelope, f"{{{SOAP11_NS}}}Body")
    with use_token(token):  # business calls are signed with the bound token's holder key
        signed = await trust.saml_signer()(envelope)
    verified = verify_envelope(
        parse_xml(signed), trusted=sandbox_pki.truststore, sts=trust.sts_certificates, now=clock()
    )
    assert verified.signer == token.holder.certificate
    assert verified.assertion is not None
    assert trust.hub_etk is not None
    assert trust.hub_etk.thumbprint == sandbox_pki.hub_etk.thumbprint
